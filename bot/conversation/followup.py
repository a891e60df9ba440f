"""Follow-ups: a message right after a window answer, on the same topic, is answered in
context — never with the same cards again.

「行ってみたいけど一人だとむり」 after the 居場所 card is about going there for the first time:
the answer says what the seeds say about that window (when, where, the fee, whether to book —
knowledge/, never invented) and offers a 相談員 who can talk it through first. Any other
follow-up on the same windows gets a short answer that names them and offers the next steps
that are left (a person, booking, other windows).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from bot.conversation import texts
from knowledge.windows import Window

#: Words of worry about going somewhere new (alone, scared, nervous, the first time).
_GOING_ALONE = (
    "一人だと",
    "ひとりだと",
    "一人で行",
    "ひとりで行",
    "ひとりでいく",
    "一人じゃ",
    "ひとりじゃ",
    "不安",
    "こわい",
    "怖い",
    "緊張",
    "初めて",
    "はじめて",
    "むり",
    "無理",
    "行ける気がしない",
    "勇気",
    "行ってみたい",
    "行きたいけど",
    "いきたいけど",
)


def worried_about_going(text: str) -> bool:
    words = unicodedata.normalize("NFKC", text)
    return any(word in words for word in _GOING_ALONE)


def first_visit_text(window: Window) -> str:
    """What the seeds say about going to this window for the first time."""
    facts = [
        value
        for value in (
            window.schedule.value if window.schedule else None,
            window.place.value if window.place else None,
            window.fee.value if window.fee else None,
            window.reservation.value if window.reservation else None,
        )
        if value
    ]
    return texts.text(
        "followup.first_visit",
        name=window.short_name,
        purpose=window.for_whom,
        facts="・" + "\n・".join(facts) if facts else "",
    )


def same_topic_text(shown: Sequence[Window]) -> str:
    names = "・".join(w.short_name for w in shown)
    return texts.text("followup.same_topic", names=names)
