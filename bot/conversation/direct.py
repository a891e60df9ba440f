"""The counsellor's direct question, and reading the resident's answer to it.

When a message shows heavy distress but no stated wish to die (`concern`), the MHLW SNS相談
guideline asks counsellors to ask concretely whether the person is thinking of dying, and to
let the answer decide the path: asking does not plant the idea. The bot asks once, with quick
replies (はい・いいえ・うまく言えない); a resident may also type the answer. はい and うまく
言えない go to the crisis path; いいえ to the window, with a 24-hour line kept in the answer.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

Answer = Literal["yes", "no", "unsure"]

_YES = (
    "はい",
    "うん",
    "そう",
    "ある",
    "あります",
    "思う",
    "思います",
    "おもう",
    "思ってる",
    "ちょっと",
    "少し",
    "すこし",
    "たまに",
    "時々",
    "ときどき",
    "かなり",
    "本当は",
    "yes",
)
_NO = (
    "いいえ",
    "いえ",
    "ううん",
    "いや",
    "ちがう",
    "違う",
    "ちがいます",
    "違います",
    "ない",
    "ありません",
    "思わない",
    "思いません",
    "おもわない",
    "大丈夫",
    "だいじょうぶ",
    "そこまで",
    "そんなこと",
    "そうでもない",
    "そうじゃない",
    "no",
)
_UNSURE = (
    "わからない",
    "分からない",
    "わかんない",
    "わかりません",
    "分かりません",
    "うまく言えない",
    "うまくいえない",
    "言えない",
    "微妙",
    "びみょう",
    "どうだろう",
    "なんとも",
)
#: Longer than this, a typed reply is a message of its own: triage reads it instead.
_SHORT = 16
_TRIM = " 　。.!！?？、,…ー〜~wｗ笑😢😭🥲"


def read_answer(text: str) -> Answer | None:
    """What a short typed reply answers (None: not an answer — read it as a message).
    Unsure is checked first (わからない contains ない), then no (思わない contains 思う)."""
    reply = unicodedata.normalize("NFKC", text).strip().strip(_TRIM).lower()
    if not reply or len(reply) > _SHORT:
        return None
    for words, answer in _ORDER:
        if any(reply.startswith(w) for w in words):
            return answer
    return None


_ORDER: tuple[tuple[tuple[str, ...], Answer], ...] = (
    (_UNSURE, "unsure"),
    (_NO, "no"),
    (_YES, "yes"),
)
