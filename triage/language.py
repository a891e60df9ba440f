"""Which language a message is written in: Japanese (the default) or English.

By script and by words, never by one token: a message is English when most of its letters
are Latin, it has no more than a trace of kana or kanji, and it has at least two words of
English's most common function words (I, my, the, is, to, can …) or four Latin words in all.
「DVです」, 「OK」, 「LINEで」 or a name in Latin letters stay Japanese; やさしい日本語 is the
default whenever it is unclear.
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["ja", "en"]

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_FUNCTION_WORDS = frozenset(
    [
        "i",
        "i'm",
        "i've",
        "my",
        "me",
        "you",
        "your",
        "we",
        "our",
        "he",
        "she",
        "his",
        "her",
        "it",
        "they",
        "their",
        "the",
        "a",
        "an",
        "is",
        "am",
        "are",
        "was",
        "were",
        "be",
        "been",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "and",
        "or",
        "but",
        "not",
        "can",
        "can't",
        "cannot",
        "could",
        "would",
        "do",
        "does",
        "don't",
        "did",
        "have",
        "has",
        "had",
        "will",
        "how",
        "what",
        "where",
        "when",
        "who",
        "why",
        "which",
        "this",
        "that",
        "there",
        "here",
        "please",
        "hello",
        "hi",
        "thanks",
        "thank",
        "help",
        "need",
        "want",
    ]
)
#: At most this share of the letters may be kana or kanji (a 住民票 inside English is fine).
_MAX_JAPANESE_SHARE = 0.2
_MIN_FUNCTION_WORDS = 2
_MIN_LATIN_WORDS = 4


def _is_japanese(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uff66" <= ch <= "\uff9f"


def detect(text: str) -> Language:
    """ "en" for a message written in English, else "ja"."""
    sample = text[:2000]
    japanese = sum(1 for ch in sample if _is_japanese(ch))
    latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha())
    if latin == 0 or japanese > _MAX_JAPANESE_SHARE * (latin + japanese):
        return "ja"
    words = [w.lower() for w in _LATIN_WORD.findall(sample)]
    function = sum(1 for w in words if w in _FUNCTION_WORDS)
    if function >= _MIN_FUNCTION_WORDS or len(words) >= _MIN_LATIN_WORDS:
        return "en"
    return "ja"
