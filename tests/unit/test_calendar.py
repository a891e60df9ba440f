"""Business days and opening hours in Asia/Tokyo: 祝日 incl. 振替休日, 年末年始, weekends,
the edges of 8:30 and 17:00, and "next opening" across nights, weekends and the new year."""

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
from knowledge.calendar import (
    JST,
    add_business_days,
    check_windows_hours,
    is_business_day,
    is_closed_day,
    is_open,
    is_public_holiday,
    next_opening,
    nth_weekday_of_month,
    office_is_open,
    opening_hours,
    read_calendar,
)
from knowledge.windows import WINDOW_IDS, load_windows

DESK = "general_desk"


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


def test_jst_is_asia_tokyo() -> None:
    assert str(JST) == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("day", "closed"),
    [
        (date(2025, 5, 6), True),  # 振替休日 (みどりの日 on a Sunday)
        (date(2025, 5, 7), False),
        (date(2026, 9, 22), True),  # 国民の休日
        (date(2026, 11, 23), True),  # 勤労感謝の日 (Monday)
        (date(2026, 11, 24), False),
        (date(2026, 11, 28), True),  # Saturday
        (date(2026, 11, 29), True),  # Sunday
        (date(2026, 12, 28), False),  # Monday before 年末年始
        (date(2026, 12, 29), True),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), True),
        (date(2025, 1, 3), True),  # Friday, still 年末年始
        (date(2027, 1, 4), False),  # Monday after 年末年始
        (date(2028, 1, 4), False),  # Tuesday
    ],
)
def test_closed_days(day: date, closed: bool) -> None:
    assert is_closed_day(day) is closed
    assert is_business_day(day) is not closed


def test_substitute_holiday_is_a_public_holiday() -> None:
    assert is_public_holiday(date(2025, 5, 6))
    assert not is_public_holiday(date(2025, 5, 7))
    assert not is_public_holiday(date(2026, 12, 29))  # 年末年始 is not a 祝日, a closure rule


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (jst(2026, 11, 24, 8, 29), False),
        (jst(2026, 11, 24, 8, 30), True),
        (jst(2026, 11, 24, 16, 59), True),
        (jst(2026, 11, 24, 17, 0), False),
        (jst(2026, 11, 23, 10, 0), False),  # 祝日
        (jst(2026, 11, 28, 10, 0), False),  # Saturday
        (jst(2026, 12, 29, 10, 0), False),  # 年末年始
    ],
)
def test_desk_open_at_the_edges(when: datetime, expected: bool) -> None:
    assert is_open(DESK, when) is expected
    assert is_open(DESK, when.astimezone(UTC)) is expected
    assert office_is_open(when) is expected


def test_front_door_services_share_the_desk_hours() -> None:
    for window in load_windows().values():
        has_hours = opening_hours(window.id) is not None
        assert has_hours == (window.hours is not None), window.id
        if has_hours:
            assert opening_hours(window.id) == (time(8, 30), time(17, 0))


def test_unknown_hours_are_none() -> None:
    when = jst(2026, 11, 24, 10, 0)
    for window_id in ("hikikomori_ibasho", "elderly_care", "out_of_scope"):
        assert opening_hours(window_id) is None
        assert is_open(window_id, when) is None
        assert next_opening(window_id, when) is None


def test_unknown_window_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        opening_hours("city_hall")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(DESK, datetime(2026, 11, 24, 10, 0))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (jst(2026, 11, 27, 18, 0), jst(2026, 11, 30, 8, 30)),  # Friday evening → Monday
        (jst(2026, 11, 20, 17, 0), jst(2026, 11, 24, 8, 30)),  # Friday → Tuesday (祝日 Monday)
        (jst(2026, 12, 28, 19, 0), jst(2027, 1, 4, 8, 30)),  # before 年末年始 → 1/4
        (jst(2026, 11, 24, 7, 0), jst(2026, 11, 24, 8, 30)),  # early morning → same day
        (jst(2026, 11, 24, 12, 0), jst(2026, 11, 24, 12, 0)),  # open now → now
        (jst(2026, 11, 24, 17, 0), jst(2026, 11, 25, 8, 30)),  # closing time → tomorrow
        # 2026-11-25 23:40 UTC is already Thursday 8:40 JST: open now.
        (datetime(2026, 11, 25, 23, 40, tzinfo=UTC), jst(2026, 11, 26, 8, 40)),
        # 2026-11-25 20:00 UTC is Thursday 5:00 JST: opens the same JST day, not Wednesday's.
        (datetime(2026, 11, 25, 20, 0, tzinfo=UTC), jst(2026, 11, 26, 8, 30)),
        # 2026-11-27 16:00 UTC is Saturday 1:00 JST: Monday, though it is still Friday in UTC.
        (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), jst(2026, 11, 30, 8, 30)),
    ],
)
def test_next_opening(now: datetime, expected: datetime) -> None:
    result = next_opening(DESK, now)
    assert result == expected
    assert result is not None and result.tzinfo is JST


def test_add_business_days() -> None:
    assert add_business_days(date(2026, 11, 27), 1) == date(2026, 11, 30)
    assert add_business_days(date(2026, 12, 28), 1) == date(2027, 1, 4)
    assert add_business_days(date(2026, 11, 24), 0) == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("year", "month", "weekday", "n", "expected"),
    [
        (2026, 12, 1, 1, date(2026, 12, 1)),  # month starting on a Tuesday
        (2026, 11, 1, 1, date(2026, 11, 3)),
        (2026, 11, 1, 2, date(2026, 11, 10)),
        (2027, 2, 0, 4, date(2027, 2, 22)),
        (2026, 3, 1, 5, date(2026, 3, 31)),
    ],
)
def test_nth_weekday_of_month(year: int, month: int, weekday: int, n: int, expected: date) -> None:
    assert nth_weekday_of_month(year, month, weekday, n) == expected


def test_nth_weekday_that_does_not_exist() -> None:
    with pytest.raises(ValueError):
        nth_weekday_of_month(2026, 2, 1, 5)
    with pytest.raises(ValueError):
        nth_weekday_of_month(2026, 2, 7, 1)


@given(
    st.integers(2020, 2035),
    st.integers(1, 12),
    st.integers(0, 6),
    st.integers(1, 4),
)
def test_nth_weekday_property(year: int, month: int, weekday: int, n: int) -> None:
    day = nth_weekday_of_month(year, month, weekday, n)
    assert (day.year, day.month, day.weekday()) == (year, month, weekday)
    assert (day.day - 1) // 7 == n - 1


moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(moments)
def test_next_opening_is_the_first_open_moment(now: datetime) -> None:
    opening = next_opening(DESK, now)
    assert opening is not None
    assert opening >= now
    assert is_open(DESK, opening) is True
    assert opening - now < timedelta(days=12)
    if opening > now:  # closed in between: sample points before it are closed
        assert opening.time() == time(8, 30)
        step = (opening - now) / 7
        for i in range(7):
            assert is_open(DESK, now + step * i) is False


@settings(max_examples=300, deadline=None)
@given(moments)
def test_open_means_business_day_within_hours(now: datetime) -> None:
    local = now.astimezone(JST)
    expected = is_business_day(local.date()) and time(8, 30) <= local.time() < time(17)
    assert is_open(DESK, now) is expected


# --- validation -------------------------------------------------------------------------


def _raw() -> dict[str, Any]:
    loaded = yaml.safe_load(data_file("calendar.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return copy.deepcopy(loaded)


def _read(tmp_path: Path, raw: dict[str, Any]) -> Any:
    path = tmp_path / "calendar.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return read_calendar(path)


def test_unchanged_copy_loads_and_extra_dates_parse(tmp_path: Path) -> None:
    raw = _raw()
    raw["extra_closure_dates"] = ["2026-12-01", date(2026, 12, 2)]
    rules = _read(tmp_path, raw)
    assert rules.extra_closure_dates == {date(2026, 12, 1), date(2026, 12, 2)}
    assert rules.new_year_start == (12, 29) and rules.new_year_end == (1, 3)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r["opening_hours"][0].update(windows=["general_desk"]), "unknown field"),
        (lambda r: r["opening_hours"][0].update(start="17:00", end="08:30"), "before"),
        (lambda r: r["opening_hours"][0].update(start="8.30"), "HH:MM"),
        (lambda r: r["opening_hours"][0].update(source="seeds"), "source"),
        (lambda r: r["opening_hours"][0].pop("source"), "source"),
        (lambda r: r["new_year"].update(start="13-29"), "MM-DD"),
        (lambda r: r["closed_weekdays"].update(days=[7]), "weekday"),
        (lambda r: r.update(extra_closure_dates=["next tuesday"]), "YYYY-MM-DD"),
        (lambda r: r.update(opening_hours=[]), "opening_hours"),
        (lambda r: r.update(holidays=True), "unknown field"),
    ],
)
def test_bad_calendar_fails_loudly(tmp_path: Path, mutate: Any, needle: str) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(KnowledgeDataError) as caught:
        _read(tmp_path, raw)
    assert "calendar.yaml" in str(caught.value)
    assert needle in str(caught.value)


def test_a_window_naming_unknown_hours_fails(tmp_path: Path) -> None:
    rules = _read(tmp_path, _raw())
    city_hall = dataclasses.replace(load_windows()["general_desk"], opening_hours="city_hall")
    with pytest.raises(KnowledgeDataError) as caught:
        check_windows_hours([city_hall], rules)
    assert "city_hall" in str(caught.value) and "calendar.yaml" in str(caught.value)


def test_window_ids_in_calendar_are_known() -> None:
    for window_id in WINDOW_IDS:
        opening_hours(window_id)  # never a KeyError for a catalogue id
