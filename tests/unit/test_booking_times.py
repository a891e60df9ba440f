"""Times stored in UTC, shown and reminded in Asia/Tokyo (H9), for any instant: around
midnight, month ends and the turn of the year."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.conversation.timefmt import short_when, slot_when
from knowledge.booking import earliest_start, first_bookable_date, load_booking_settings
from knowledge.calendar import JST
from knowledge.reminders import reminders_for

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(instants)
def test_shown_date_and_time_are_tokyo_wall_clock(at: datetime) -> None:
    local = at + timedelta(hours=9)  # Japan has no daylight saving time
    shown = slot_when(at)
    assert shown.startswith(f"{local.month}月{local.day}日（")
    assert shown.endswith(f"）{local.hour}:{local.minute:02d}")
    assert short_when(at).startswith(f"{local.month}/{local.day}（")


@given(instants, st.sampled_from(["visit", "phone"]), st.integers(min_value=1, max_value=40))
def test_reminders_fall_on_the_tokyo_day_before_and_the_morning_of(
    starts: datetime, mode: str, days_ahead: int
) -> None:
    settings = load_booking_settings()
    now = starts - timedelta(days=days_ahead)
    planned = {r.kind: r.due_at for r in reminders_for(starts, mode, settings, now=now)}
    day = starts.astimezone(JST).date()
    day_before = datetime.combine(day - timedelta(days=1), settings.reminder_day_before, JST)
    morning = datetime.combine(day, settings.reminder_morning_of, JST)
    assert planned.get("day_before") == (day_before if now < day_before < starts else None)
    if mode == "visit" and now < morning < starts:
        assert planned.get("morning_of") == morning
    else:
        assert "morning_of" not in planned
    assert all(now < due < starts for due in planned.values())


@given(instants)
def test_nothing_bookable_before_the_next_business_day_in_tokyo(now: datetime) -> None:
    settings = load_booking_settings()
    earliest = earliest_start(now, settings)
    assert earliest >= now
    first_day = first_bookable_date(now, settings)
    assert earliest.astimezone(JST).date() == first_day or earliest == now
    assert earliest.astimezone(JST).time() in (time(0), now.astimezone(JST).time())
