"""When to remind a resident of a booking: the evening before, and the morning of a 来所.

Reminders are rows the scheduler claims (issue 4); this module only computes their due
times, on the Tokyo clock, returned in UTC like every stored time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from knowledge.booking import MODES, BookingSettings, load_booking_settings, utc_at
from knowledge.calendar import to_jst


@dataclass(frozen=True)
class Reminder:
    kind: str  # "day_before" | "morning_of"
    due_at: datetime  # aware UTC


def reminders_for(
    starts_at: datetime,
    mode: str,
    settings: BookingSettings | None = None,
    now: datetime | None = None,
) -> tuple[Reminder, ...]:
    """Reminder due times (UTC) for a booking: the day before, and the morning of for 来所.

    A reminder at or after the start, or (given ``now``) already past, is left out.
    """
    settings = settings or load_booking_settings()
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    day = to_jst(starts_at).date()
    planned = [
        Reminder("day_before", utc_at(day - timedelta(days=1), settings.reminder_day_before))
    ]
    if mode == "visit":
        planned.append(Reminder("morning_of", utc_at(day, settings.reminder_morning_of)))
    return tuple(r for r in planned if r.due_at < starts_at and (now is None or r.due_at > now))
