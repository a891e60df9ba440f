"""Normalisation: one linear pass that makes noisy spellings comparable."""

from __future__ import annotations

import time

import pytest

from triage.normalise import clean, fold, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ｼﾆﾀｲ", "シニタイ"),  # half-width katakana
        ("ＯＤした", "ODした"),  # full-width latin
        ("しにたぃ", "しにたい"),  # stray small vowel
        ("パーティー", "パーティー"),  # a real small vowel stays
        ("ヤバーーーい", "ヤバーい"),  # long vowel runs collapse
        ("すご〜い", "すごい"),  # a stretched hiragana word reads as the word
        ("つらいいいいい", "つらいい"),  # runs longer than two collapse
        ("死\u200bに\u202eたい", "死にたい"),  # zero-width and bidi controls removed
        ("1000円", "1000円"),  # digits never collapse
        ("草wwww", "草w"),
        ("きえたぁぁい", "きえたい"),  # a vowel run that only stretches the kana before it
        ("すごおおい", "すごい"),
        ("おかあさん", "おかあさん"),  # one vowel is part of the word
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_fold_makes_katakana_and_hiragana_equal() -> None:
    assert fold(clean("ヒキコモリ")) == fold(clean("ひきこもり")) == "ひきこもり"
    assert fold(clean("ﾔﾁﾝ")) == "やちん"


def test_compact_joins_spaced_letters() -> None:
    assert normalise("し に た い").compact == "しにたい"
    assert normalise("死・に・た・い").compact == "死にたい"
    assert normalise("ﾀﾋ ﾆﾀｲ").compact_script == "タヒニタイ"


def test_adversarial_input_is_linear() -> None:
    # CPU time of this thread, not the wall clock: another process keeping the cores busy
    # does not count, a super-linear pattern (minutes on 100k characters) still does.
    started = time.thread_time()
    normalise("ああ" * 50000 + "!")
    normalise("ー" * 100000)
    normalise("\u200b" * 100000)
    assert time.thread_time() - started < 1.0
