"""Times as residents read them: 「11月24日 月曜日 8時30分」 (Asia/Tokyo)."""

from __future__ import annotations

from datetime import datetime

from bot.conversation import texts
from knowledge.calendar import next_opening, office_is_open, to_jst


def when(t: datetime) -> str:
    local = to_jst(t)
    if local.minute:
        clock = texts.text("time.clock_minutes", hour=local.hour, minute=f"{local.minute:02d}")
    else:
        clock = texts.text("time.clock_hour", hour=local.hour)
    return texts.text(
        "time.when",
        month=local.month,
        day=local.day,
        weekday=texts.weekday(local.weekday()),
        clock=clock,
    )


def desk_next_opening(now: datetime) -> str | None:
    """When staff of the 福祉総合相談窓口 will next be at work, or None if open now."""
    if office_is_open(now):
        return None
    opens = next_opening("general_desk", now)
    return when(opens) if opens is not None else None
