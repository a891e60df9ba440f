"""Slot generation for bookings (issue 4): desk hours, closed days incl. 振替休日 and 年末年始,
first/second Tuesday sessions, minimum notice, horizon, and UTC storage near midnight JST."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge._loading import KnowledgeDataError, data_file
from knowledge.booking import (
    SERVICE_IDS,
    BookingSettings,
    SlotSpec,
    first_bookable_date,
    generate_slots,
    load_booking_settings,
    next_sessions,
    read_booking_settings,
)
from knowledge.calendar import JST, is_business_day, is_closed_day, nth_weekday_of_month
from knowledge.reminders import reminders_for
from knowledge.windows import get_window

TUESDAY = 1


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


def local(slot: SlotSpec) -> tuple[datetime, datetime]:
    return slot.starts_at.astimezone(JST), slot.ends_at.astimezone(JST)


def test_default_settings() -> None:
    s = load_booking_settings()
    assert s.capacity == 1
    assert s.min_notice_business_days == 1
    assert s.horizon_days == 28
    assert s.reminder_day_before == time(18, 0)
    assert s.reminder_morning_of == time(8, 0)
    assert set(s.services) == set(SERVICE_IDS)
    assert s.slot_minutes > 0


def test_services_point_at_bookable_windows() -> None:
    s = load_booking_settings()
    assert s.service("consultation").window_id == "general_desk"
    assert s.service("ibasho").window_id == "hikikomori_ibasho"
    assert s.service("family_gathering").window_id == "hikikomori_family"
    assert s.service("ibasho").reservation == "first_visit"
    assert s.service("family_gathering").reservation == "always"
    assert s.service("consultation").modes == ("visit", "phone")
    for service in s.services.values():
        for window_id in service.covers:
            assert get_window(window_id).bookable
    for window_id in ("self_reliance", "housing_benefit", "household_budget", "housing_search"):
        found = s.service_for_window(window_id)
        assert found is not None and found.id == "consultation"
    assert s.service_for_window("elderly_care") is None
    with pytest.raises(KeyError):
        generate_slots("massage", jst(2026, 11, 24, 10, 0))


def test_consultation_from_friday_evening_starts_monday_830() -> None:
    slots = generate_slots("consultation", jst(2026, 11, 27, 18, 0))
    start, _ = local(slots[0])
    assert start == jst(2026, 11, 30, 8, 30)


def test_consultation_day_fills_830_to_1700() -> None:
    s = dataclasses.replace(load_booking_settings(), slot_minutes=30)
    slots = [x for x in generate_slots("consultation", jst(2026, 11, 27, 18, 0), s)]
    monday = [local(x) for x in slots if local(x)[0].date() == date(2026, 11, 30)]
    assert monday[0] == (jst(2026, 11, 30, 8, 30), jst(2026, 11, 30, 9, 0))
    assert monday[-1] == (jst(2026, 11, 30, 16, 30), jst(2026, 11, 30, 17, 0))
    assert len(monday) == 17


def test_slot_that_would_run_past_1700_is_not_offered() -> None:
    s = dataclasses.replace(load_booking_settings(), slot_minutes=60)
    ends = {local(x)[1].time() for x in generate_slots("consultation", jst(2026, 11, 27, 18), s)}
    assert max(ends) <= time(17, 0)
    assert time(16, 30) in ends  # 15:30–16:30 is the last hour-long slot


def test_min_notice_zero_offers_the_rest_of_today() -> None:
    s = dataclasses.replace(load_booking_settings(), min_notice_business_days=0, slot_minutes=60)
    slots = generate_slots("consultation", jst(2026, 11, 24, 10, 0), s)
    assert local(slots[0])[0] == jst(2026, 11, 24, 10, 30)


def test_min_notice_counts_business_days() -> None:
    s = dataclasses.replace(load_booking_settings(), min_notice_business_days=2)
    # Friday → Monday is 1 business day, Tuesday is 2.
    assert first_bookable_date(jst(2026, 11, 27, 9), s) == date(2026, 12, 1)
    assert first_bookable_date(jst(2026, 12, 28, 9), load_booking_settings()) == date(2027, 1, 4)


def test_nothing_in_new_year_closure_or_on_substitute_holiday() -> None:
    days = {local(x)[0].date() for x in generate_slots("consultation", jst(2026, 12, 20, 12))}
    assert date(2026, 12, 28) in days
    assert not days & {date(2026, 12, 29), date(2026, 12, 30), date(2027, 1, 1)}
    assert date(2027, 1, 4) in days
    may = {local(x)[0].date() for x in generate_slots("consultation", jst(2025, 4, 25, 12))}
    assert date(2025, 5, 6) not in may  # 振替休日
    assert date(2025, 5, 7) in may


def test_horizon_is_28_days_from_today_in_jst() -> None:
    now = jst(2026, 11, 24, 10, 0)
    slots = generate_slots("consultation", now)
    assert local(slots[-1])[0].date() == date(2026, 12, 22)  # today + 28 is a Tuesday
    assert all(local(x)[0].date() <= date(2026, 12, 22) for x in slots)


def test_ibasho_is_first_tuesday_at_1500_and_family_second_tuesday_at_1000() -> None:
    now = jst(2026, 11, 27, 10, 0)
    # Issue 10: a monthly session is bookable two sessions ahead (beyond the 28 days).
    ibasho, ibasho_next = generate_slots("ibasho", now)
    family, family_next = generate_slots("family_gathering", now)
    assert local(ibasho)[0] == jst(2026, 12, 1, 15, 0)
    assert local(family)[0] == jst(2026, 12, 8, 10, 0)
    assert local(ibasho_next)[0] == jst(2027, 1, 5, 15, 0)
    assert local(family_next)[0] == jst(2027, 1, 12, 10, 0)
    assert ibasho.capacity == load_booking_settings().service("ibasho").capacity
    assert local(ibasho)[1] > local(ibasho)[0]


def test_session_on_a_closed_day_is_not_offered() -> None:
    # First Tuesday of January 2029 is 1/2 (年末年始): no 居場所 that month.
    assert nth_weekday_of_month(2029, 1, TUESDAY, 1) == date(2029, 1, 2)
    slots = generate_slots("ibasho", jst(2028, 12, 20, 10, 0))
    assert date(2029, 1, 2) not in {local(x)[0].date() for x in slots}
    s = dataclasses.replace(
        load_booking_settings(), extra_closure_dates=frozenset({date(2026, 12, 8)})
    )
    days = {
        local(x)[0].date() for x in generate_slots("family_gathering", jst(2026, 11, 27, 10), s)
    }
    assert date(2026, 12, 8) not in days
    assert days == {date(2027, 1, 12), date(2027, 2, 9)}  # still the next two sessions


def test_extra_closure_dates_remove_consultations() -> None:
    s = dataclasses.replace(
        load_booking_settings(), extra_closure_dates=frozenset({date(2026, 11, 30)})
    )
    slots = generate_slots("consultation", jst(2026, 11, 27, 18, 0), s)
    assert local(slots[0])[0] == jst(2026, 12, 1, 8, 30)  # notice skips the closed Monday


def test_stored_utc_maps_back_to_the_right_jst_date_near_midnight() -> None:
    # 00:30 JST on Friday 11/27 is still Thursday 11/26 in UTC.
    now = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
    slots = generate_slots("consultation", now)
    first = slots[0]
    assert first.starts_at.tzinfo is UTC
    assert first.starts_at == datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # Sunday in UTC...
    assert local(first)[0] == jst(2026, 11, 30, 8, 30)  # ...Monday 8:30 in Tokyo
    assert first.starts_at.replace(tzinfo=None).date() != local(first)[0].date()


def test_month_end_rollover() -> None:
    slots = generate_slots("consultation", jst(2027, 1, 29, 18, 0))  # Friday, month end
    assert local(slots[0])[0] == jst(2027, 2, 1, 8, 30)
    ibasho = generate_slots("ibasho", jst(2027, 1, 29, 18, 0))
    assert local(ibasho[0])[0] == jst(2027, 2, 2, 15, 0)


def test_reminders() -> None:
    starts = jst(2026, 12, 1, 10, 0).astimezone(UTC)
    visit = reminders_for(starts, "visit")
    assert [(r.kind, r.due_at.astimezone(JST)) for r in visit] == [
        ("day_before", jst(2026, 11, 30, 18, 0)),
        ("morning_of", jst(2026, 12, 1, 8, 0)),
    ]
    assert all(r.due_at.tzinfo is UTC for r in visit)
    assert [r.kind for r in reminders_for(starts, "phone")] == ["day_before"]
    late = reminders_for(starts, "visit", now=jst(2026, 11, 30, 19, 0))
    assert [r.kind for r in late] == ["morning_of"]
    early = reminders_for(jst(2026, 12, 1, 8, 0), "visit")  # no reminder at the start itself
    assert [r.kind for r in early] == ["day_before"]
    with pytest.raises(ValueError):
        reminders_for(starts, "email")


# --- properties -----------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2031, 12, 1), timezones=st.just(UTC)
)
slot_lengths = st.sampled_from([15, 30, 45, 60, 90])
notices = st.integers(0, 3)


def _settings(slot_minutes: int, notice: int) -> BookingSettings:
    return dataclasses.replace(
        load_booking_settings(), slot_minutes=slot_minutes, min_notice_business_days=notice
    )


@settings(max_examples=150, deadline=None)
@given(moments, slot_lengths, notices)
def test_consultation_properties(now: datetime, slot_minutes: int, notice: int) -> None:
    s = _settings(slot_minutes, notice)
    slots = generate_slots("consultation", now, s)
    today = now.astimezone(JST).date()
    earliest = first_bookable_date(now, s)
    assert slots, "four weeks always hold a business day"
    starts = [x.starts_at for x in slots]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for slot in slots:
        start, end = local(slot)
        assert slot.starts_at.tzinfo is UTC and slot.ends_at.tzinfo is UTC
        assert start.date() == end.date()
        assert not is_closed_day(start.date())
        assert time(8, 30) <= start.time() and end.time() <= time(17, 0)
        assert end - start == timedelta(minutes=slot_minutes)
        assert (start - start.replace(hour=8, minute=30)) % timedelta(minutes=slot_minutes) == (
            timedelta(0)
        )
        assert slot.starts_at > now
        assert earliest <= start.date() <= today + timedelta(days=28)
        assert slot.capacity == 1
        # UTC storage round-trips to the same Tokyo wall time.
        assert datetime.fromisoformat(slot.starts_at.isoformat()).astimezone(JST) == start
    if notice >= 1:
        business_days_between = [
            today + timedelta(days=i)
            for i in range(1, (earliest - today).days)
            if is_business_day(today + timedelta(days=i))
        ]
        assert len(business_days_between) == notice - 1
        assert all(local(x)[0].date() > today for x in slots)


@settings(max_examples=150, deadline=None)
@given(moments, notices)
def test_session_properties(now: datetime, notice: int) -> None:
    s = _settings(60, notice)
    today = now.astimezone(JST).date()
    for service_id, week, at in (("ibasho", 1, time(15)), ("family_gathering", 2, time(10))):
        for slot in generate_slots(service_id, now, s):
            start, end = local(slot)
            day = start.date()
            assert day == nth_weekday_of_month(day.year, day.month, TUESDAY, week)
            assert start.time() == at
            assert end > start
            assert not is_closed_day(day)
            # Within 28 days, or one of the next two sessions (issue 10).
            upcoming = next_sessions(s.service(service_id), now, s, 2)
            within = day <= today + timedelta(days=28)
            assert first_bookable_date(now, s) <= day
            assert within or slot.starts_at in upcoming
            assert slot.starts_at > now
        # Always at least the next two sessions (issue 10): never out of reach.
        offered = [x.starts_at for x in generate_slots(service_id, now, s)]
        assert offered[:2] == next_sessions(s.service(service_id), now, s, 2)


@settings(max_examples=100, deadline=None)
@given(moments)
def test_every_open_session_day_in_range_is_offered(now: datetime) -> None:
    s = load_booking_settings()
    earliest = first_bookable_date(now, s)
    last = now.astimezone(JST).date() + timedelta(days=s.horizon_days)
    # Issue 10: the horizon of a monthly session reaches at least its next two sessions.
    two = next_sessions(s.service("ibasho"), now, s, 2)
    last = max(last, *(x.astimezone(JST).date() for x in two))
    offered = {local(x)[0].date() for x in generate_slots("ibasho", now, s)}
    expected = set()
    for offset in range(-1, 6):
        month = (earliest.replace(day=1) + timedelta(days=32 * offset)).replace(day=1)
        day = nth_weekday_of_month(month.year, month.month, TUESDAY, 1)
        if earliest <= day <= last and not is_closed_day(day):
            expected.add(day)
    assert offered == expected


# --- validation -------------------------------------------------------------------------


def _raw() -> dict[str, Any]:
    loaded = yaml.safe_load(data_file("booking.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return copy.deepcopy(loaded)


def test_unchanged_copy_loads(tmp_path: Path) -> None:
    path = tmp_path / "booking.yaml"
    path.write_text(yaml.safe_dump(_raw(), allow_unicode=True), encoding="utf-8")
    assert read_booking_settings(path) == load_booking_settings()


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r["services"][0].update(id="massage"), "massage"),
        (lambda r: r["services"][1].update(covers=["food_bank"]), "food_bank"),
        (lambda r: r["services"][1].update(covers=["general_desk"]), "also covered"),
        (lambda r: r["services"][1].update(start="18:00"), "before"),
        (lambda r: r["services"][1].update(weekday="tuesday"), "weekday"),
        (lambda r: r["services"][1].update(week_of_month=6), "week_of_month"),
        (lambda r: r["services"][1].update(start_source="flyer"), "source"),
        (lambda r: r["services"][1].pop("capacity"), "capacity"),
        (lambda r: r["services"][0].update(window_id="hikikomori_ibasho"), "opening hours"),
        (lambda r: r["services"][0].update(modes=["visit", "video"]), "modes"),
        (lambda r: r.update(capacity=0), "capacity"),
        (lambda r: r.update(horizon_days="four weeks"), "horizon_days"),
        (lambda r: r["reminders"].update(day_before="6pm"), "HH:MM"),
        (lambda r: r["services"].append(copy.deepcopy(r["services"][2])), "duplicate id"),
    ],
)
def test_bad_booking_settings_fail_loudly(tmp_path: Path, mutate: Any, needle: str) -> None:
    raw = _raw()
    mutate(raw)
    path = tmp_path / "booking.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeDataError) as caught:
        read_booking_settings(path)
    assert "booking.yaml" in str(caught.value)
    assert needle in str(caught.value)
