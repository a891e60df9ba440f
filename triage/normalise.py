"""Text normalisation before anything else reads a message.

Three views of one message, all built in a single linear pass each (no regular expression
here, so no input can make normalisation slow):

- `clean`: what the tokeniser reads. NFKC (full/half width), zero-width and bidi controls
  removed, long-vowel variants unified to 「ー」, runs of one character collapsed, stray small
  vowels folded (しにたぃ → しにたい) where they are not part of a real sound (ティ, ファ).
- `fold`: `clean` in hiragana and lower case — what surface matching reads, so that
  ヒキコモリ and ひきこもり are the same word.
- `compact`: `fold` without spaces and punctuation, so that 「し に た い」 or 「死・に・た・い」
  read as one word for the crisis layer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Long-vowel look-alikes residents type after kana (〜 ～ ｰ - ― …). NFKC maps ｰ to ー and ～ to ~.
_LONG_VOWEL_LIKE = frozenset("~〜-‐‑‒–—―ｰ－─━ｰ")
_SMALL_VOWELS = {
    "ぁ": "あ",
    "ぃ": "い",
    "ぅ": "う",
    "ぇ": "え",
    "ぉ": "お",
    "ァ": "ア",
    "ィ": "イ",
    "ゥ": "ウ",
    "ェ": "エ",
    "ォ": "オ",
    "ゎ": "わ",
    "ヮ": "ワ",
}
# Kana that really combine with a following small vowel (ティ, ファ, ウィ, チェ, ヴァ …).
_COMBINING_BEFORE_SMALL = frozenset(
    "うくぐすずつづてでとどふぶぷゔしじちぢにひびぴみりきぎいウクグスズツヅテデトドフブプヴシジチヂニヒビピミリキギイ"
)
_PUNCT_FOR_COMPACT = frozenset(
    " \t\r\n\u3000、。,.・･!?！？「」『』（）()【】[]{}〈〉《》\"'“”‘’:;：；/／\\|…‥〜~*＊_＿#＃"
)
#: A run of the same character longer than this collapses (つらいいいい → つらい).
_MAX_RUN = 2
_SINGLE_ONLY = frozenset("ーっッwW")


# The vowel each hiragana ends in, for stretched spellings (きえたああい → きえたい).
_VOWEL_OF: dict[str, str] = {}
for _vowel, _row in (
    ("あ", "あかさたなはまやらわがざだばぱゃ"),
    ("い", "いきしちにひみりぎじぢびぴ"),
    ("う", "うくすつぬふむゆるぐずづぶぷゅ"),
    ("え", "えけせてねへめれげぜでべぺ"),
    ("お", "おこそとのほもよろをごぞどぼぽょ"),
):
    for _kana in _row:
        _VOWEL_OF[_kana] = _vowel


def _drop_stretch(text: str) -> str:
    """Remove a run of two or more vowel kana that only stretches the kana before it
    (たああい → たい, すごおおい → すごい); a single one stays (おかあさん)."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        out.append(ch)
        vowel = _VOWEL_OF.get(ch)
        j = i + 1
        if vowel is not None:
            while j < n and text[j] == vowel:
                j += 1
            if j - (i + 1) >= 2:
                i = j
                continue
        i += 1
    return "".join(out)


def _is_kana(ch: str) -> bool:
    return "\u3041" <= ch <= "\u30ff"


def _is_hiragana(ch: str) -> bool:
    return "\u3041" <= ch <= "\u309f"


def _is_digit(ch: str) -> bool:
    return ch.isdigit()


def _drop(ch: str) -> bool:
    """Zero-width, bidi and other format/control characters carry no meaning for us."""
    if ch in "\n\t":
        return False
    cat = unicodedata.category(ch)
    return cat in ("Cf", "Cc", "Cs", "Co")


def clean(text: str) -> str:
    """NFKC + invisible characters removed + long vowels, runs and small vowels tamed."""
    text = unicodedata.normalize("NFKC", "".join(ch for ch in text if not _drop(ch)))
    out: list[str] = []
    run = 0
    for ch in text:
        prev = out[-1] if out else ""
        if ch in _LONG_VOWEL_LIKE and prev and (_is_kana(prev) or prev == "ー"):
            ch = "ー"
        if ch == "ー" and _is_hiragana(prev):
            continue  # すごーい, しにたーい: a stretched hiragana word reads as the word
        elif ch in _SMALL_VOWELS and prev and prev not in _COMBINING_BEFORE_SMALL:
            ch = _SMALL_VOWELS[ch]
        if ch == prev and not _is_digit(ch):
            run += 1
            # ーー, っっ and ww add nothing; other characters may double (いい, 人々).
            if run + 1 > (1 if ch in _SINGLE_ONLY else _MAX_RUN):
                continue
        else:
            run = 0
        out.append(ch)
    return _drop_stretch("".join(out))


def to_hiragana(text: str) -> str:
    """Katakana → hiragana (ヴ → ゔ); everything else unchanged."""
    return "".join(chr(ord(ch) - 0x60) if "\u30a1" <= ch <= "\u30f6" else ch for ch in text)


def typed_in_katakana(text: str) -> bool:
    """ｼﾞﾌﾞﾝｶﾞｲﾙｶﾗ ｶｿﾞｸｶﾞ…: a whole message in katakana (old phones, half-width habits).
    Sudachi reads such a message as unknown words; in hiragana it has its words back. A
    katakana loanword or two in an ordinary sentence is not this."""
    katakana = sum("\u30a1" <= ch <= "\u30fa" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    return katakana >= 6 and katakana >= 0.9 * letters


def _lower(ch: str) -> str:
    # One character in, one out, so every view keeps the offsets of `clean` (İ.lower() is two).
    low = ch.lower()
    return low if len(low) == 1 else ch


def fold(cleaned: str) -> str:
    """The surface-matching view: hiragana, lower case, small vowels folded."""
    folded = to_hiragana(cleaned)
    return "".join(_SMALL_VOWELS.get(low, low) for low in map(_lower, folded))


def bare(folded: str) -> str:
    """`fold` without long-vowel marks, for surface matching only: でいさーびす, でいさびす and
    デイサービス meet here whichever way the resident stretched (or did not stretch) them."""
    return folded.replace("ー", "")


def compact(folded: str) -> str:
    """`fold` without spaces and punctuation (し に た い → しにたい)."""
    return "".join(ch for ch in folded if ch not in _PUNCT_FOR_COMPACT)


@dataclass(frozen=True, slots=True)
class Normalised:
    clean: str
    fold: str
    compact: str
    #: `fold` without ー (surface matching).
    bare: str
    #: `clean` without spaces/punctuation but in its original script (タヒ stays katakana).
    compact_script: str
    #: For each character of `compact` (and `compact_script`), its offset in `clean`, so a
    #: crisis pattern found in the compact view can be placed in a sentence of the message.
    compact_offsets: tuple[int, ...] = ()


def normalise(text: str) -> Normalised:
    c = clean(text)
    f = fold(c)
    kept = tuple(i for i, ch in enumerate(f) if ch not in _PUNCT_FOR_COMPACT)
    return Normalised(
        clean=c,
        fold=f,
        compact=compact(f),
        bare=bare(f),
        compact_script="".join(ch for ch in c if ch not in _PUNCT_FOR_COMPACT),
        compact_offsets=kept,
    )
