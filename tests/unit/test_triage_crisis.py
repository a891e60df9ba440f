"""The crisis layer: high recall on noisy spellings, negation and idioms lower, never silently."""

from __future__ import annotations

import time

import pytest

from triage import analyse
from triage.crisis import _PATTERNS, check
from triage.normalise import normalise


def urgency(text: str) -> str:
    return check(normalise(text)).urgency


@pytest.mark.parametrize(
    "text",
    [
        # B6: every spelling of 死にたい is a crisis
        "死にたい",
        "しにたい",
        "シニタイ",
        "ｼﾆﾀｲ",
        "しにたぃ",
        "氏にたい",
        "タヒにたい",
        "し に た い",
        "死　に　た　い",
        "死にたいです。",
        "もう死にたくなる",
        "4にたい",
        "しにた〜い",
        "きえたぁぁい",
        "ｓｈｉｎｉｔａｉ",
    ],
)
def test_direct_ideation_any_spelling(text: str) -> None:
    assert urgency(text) == "crisis"


@pytest.mark.parametrize(
    "text",
    [
        "消えたい",
        "もういなくなりたい",
        "生きてる意味ない",
        "生きる意味がわからない",
        "もう楽になりたい",
        "全部終わりにしたい",
        "もう限界",
        "生まれてこなければよかった",
        "朝が来なければいいのに",
        "死ぬしかないと思ってる",
        "屋上から飛び降りたい",
    ],
)
def test_indirect_ideation(text: str) -> None:
    assert urgency(text) == "crisis"


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("リスカしてる", "self_harm"),
        ("また切ってしまった", "self_harm"),
        ("手首を切った", "self_harm"),
        ("ODした", "overdose"),
        ("ＯＤしちゃった", "overdose"),
        ("薬たくさん飲んだ", "overdose"),
        ("睡眠薬を全部飲んだ", "overdose"),
        ("夫に殴られてる", "violence_now"),
        ("毎日親に叩かれる。助けて", "violence_now"),
        ("怖くて家に帰れない", "violence_now"),
        ("一緒に住んでる兄が暴れて物を壊す。こわい", "violence_now"),
        ("父が酔うと暴れる。今も壁を殴ってて怖い", "violence_now"),
        ("友達が死ぬって言ってる", "other_in_danger"),
        ("公園で人が倒れてて反応がない", "other_in_danger"),
        # katakana words in the patterns must match the hiragana-folded text
        ("ロキソニンを20錠飲んだ", "overdose"),
        ("オーバードーズした", "overdose"),
        ("カッターで腕を切った", "self_harm"),
        ("ロープを買った。もう決めた", "suicidal"),
    ],
)
def test_self_harm_overdose_violence_others(text: str, signal: str) -> None:
    result = check(normalise(text))
    assert result.urgency == "crisis"
    assert signal in result.signals


@pytest.mark.parametrize(
    "text",
    ["死にたくはない", "死にたいとかじゃないけど毎日しんどい", "消えたいとまでは思わないけど"],
)
def test_negation_lowers_to_concern_and_is_recorded(text: str) -> None:
    result = check(normalise(text))
    assert result.urgency == "concern"
    assert any(s.endswith(":negated") for s in result.signals)
    assert any(e.window == "crisis" and "negated" in e.term for e in result.evidence)


@pytest.mark.parametrize(
    "text",
    ["死ぬほど眠い", "課金しすぎて死んだw", "死ぬかと思った", "祖母が亡くなった"],
)
def test_idioms_and_deaths_of_others_are_not_crisis_but_noticed(text: str) -> None:
    result = check(normalise(text))
    assert result.urgency != "crisis"
    assert "idiom" in result.signals


@pytest.mark.parametrize(
    "text",
    [
        "髪を切ってる",
        "電話を切ってしまった",
        "お菓子に対して厳しい",
        "タヒチに行きたい",
        "GOODです",
        "終電がなくて家に帰れない",
        "自殺予防のボランティアに興味がある",
        "推しに殺される（尊い）",
        "仕事終わりにしたい",
        "母が年金を使い切ってしまう",
    ],
)
def test_plainly_something_else_is_not_crisis(text: str) -> None:
    assert urgency(text) != "crisis"


def test_rent_and_vanish_is_crisis_and_still_routed_to_rent() -> None:
    result = analyse("家賃払えないしもう消えたい")
    assert result.urgency == "crisis"
    assert result.primary == "housing_benefit"
    assert "suicidal" in result.crisis_signals


def test_crisis_alone_goes_to_the_general_desk() -> None:
    result = analyse("ｼﾆﾀｲ")
    assert result.urgency == "crisis"
    assert result.primary == "general_desk"


def test_no_crisis_regex_is_slow_on_adversarial_input() -> None:
    norm = normalise("ああ" * 50000 + "!")
    raw = "ああ" * 50000 + "!"  # also the raw text, in case a pattern ever reads it unnormalised
    for pattern in _PATTERNS:
        for text in (norm.compact, raw):
            # CPU time of this thread (TESTING.md B4's 100 ms), not the wall clock, which a
            # busy machine stretches; catastrophic backtracking costs CPU either way.
            started = time.thread_time()
            list(pattern.regex.finditer(text))
            assert time.thread_time() - started < 0.1, pattern.label


def test_crisis_layer_is_linear_on_long_noisy_input() -> None:
    for text in ("しにたく" * 2500, "死" * 10000, "たひ" * 5000, "死にたいとかじゃない" * 1000):
        started = time.thread_time()  # CPU, not wall clock (see above)
        check(normalise(text))
        assert time.thread_time() - started < 0.5, text[:8]


@pytest.mark.parametrize(
    "text",
    [
        # A farewell that asks someone else to pass on thanks.
        "みんなにありがとうって伝えてください。今までお世話になりました",
        # Someone else unresponsive.
        "駅前のベンチでおじいさんがぐったりしてて呼んでも返事がない",
        # At a height, with words of giving up.
        "今ベランダにいる。もう無理",
        "今から線路に行く",
        "いまから飛ぶ",
        "今日でおわりにする。ありがとう",
        "息子が暴れて物を投げてくる",
        "お父さんがお酒飲むと怒鳴ってものを投げる。こわい。中1",
        # A past-sounding phrase that is still present.
        "死にたいと思う時期があった、今もたまに思う",
    ],
)
def test_farewells_heights_and_unresponsive_people_are_crisis(text: str) -> None:
    assert urgency(text) == "crisis"


@pytest.mark.parametrize(
    "text",
    [
        "消えたいって思ってた時期もあったけど今は大丈夫。就職の準備したい",  # placed in the past
        "家族が自殺して、遺族の集まりとかありますか",  # bereaved, not at risk themselves
        "兄を自殺で亡くしました",
        "DVから逃げてきました。子どもと二人、住む場所がありません",  # escaped, not now
    ],
)
def test_past_bereaved_and_escaped_are_concern_not_crisis(text: str) -> None:
    result = check(normalise(text))
    assert result.urgency == "concern"
    assert result.signals  # noticed, never silently dropped


@pytest.mark.parametrize(
    "text",
    [
        "飛び降りる覚悟で離婚届出しました笑 ひとり親の手当教えて",
        "清水の舞台から飛び降りるつもりで家を買った",
        "引っ越すことになりました。今までお世話になりました",
        "母の日に母にありがとうって伝えたい",
        "ベランダにいる猫がかわいい",
        "子どもが癇癪で物を投げてきて大変です",  # a toddler's tantrum
        "2歳の息子がすぐ物を投げる。困ってる",
        "バイト今日でおわりにする",  # the job ends, not a life
        "今から飛ぶ鳥を見た",
        "じさつ ぼうし の ポスター みた。ボランティア したい",
    ],
)
def test_resolve_idioms_and_ordinary_goodbyes_are_not_crisis(text: str) -> None:
    assert urgency(text) != "crisis"


def test_a_crisis_with_a_routine_window_also_reaches_the_general_desk() -> None:
    result = analyse("駅前のベンチでおじいさんがぐったりしてて呼んでも返事がない")
    assert result.urgency == "crisis"
    assert "general_desk" in result.window_ids
