"""Business days and opening hours of the windows, in Asia/Tokyo.

Residents write at any hour; the bot must say truthfully whether the desk is open now and
when it opens next, and bookings must never land on a closed day. Closure rules (weekends,
祝日 incl. 振替休日, 年末年始, extra dates) are data in calendar.yaml; jpholiday is touched by
exactly one function so a holiday-library change is one edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

import jpholiday

from knowledge._loading import (
    Entry,
    KnowledgeDataError,
    data_file,
    entries,
    parse_date,
    read_yaml,
)
from knowledge.windows import Window, get_window, load_windows

JST = ZoneInfo("Asia/Tokyo")

# Longest possible run of closed days is 年末年始 plus a weekend plus holidays plus extra
# dates; a search further than this means the data closes everything.
_SEARCH_DAYS = 370


@dataclass(frozen=True)
class CalendarRules:
    """Closure rules and opening hours as loaded from calendar.yaml."""

    closed_weekdays: frozenset[int]
    public_holidays_closed: bool
    new_year_start: tuple[int, int]
    new_year_end: tuple[int, int]
    extra_closure_dates: frozenset[date]
    #: [start, end) by opening-hours id (windows name theirs: Window.opening_hours).
    hours: Mapping[str, tuple[time, time]]


def _month_day(entry: Entry, key: str) -> tuple[int, int]:
    raw = entry.text(key)
    try:
        month, day = (int(part) for part in raw.split("-"))
        date(2024, month, day)  # a leap year accepts every real month-day
    except ValueError as exc:
        raise entry.fail(f"{key} {raw!r} must be 'MM-DD'") from exc
    return month, day


def read_calendar(path: Path) -> CalendarRules:
    """Load and validate a calendar file; raises KnowledgeDataError (a ValueError) if bad."""
    file = str(path)
    document = read_yaml(path)
    top = Entry(file, "<file>", document)
    top.check_keys(
        {
            "closed_weekdays",
            "public_holidays_closed",
            "new_year",
            "extra_closure_dates",
            "opening_hours",
        }
    )
    weekdays = top.sub("closed_weekdays")
    weekdays.source()
    days = weekdays.raw.get("days")
    if not isinstance(days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days
    ):
        raise weekdays.fail("days must be a list of weekday numbers 0 (Mon) to 6 (Sun)")
    holidays = top.sub("public_holidays_closed")
    holidays.source()
    new_year = top.sub("new_year")
    new_year.source()
    extra_raw = top.raw.get("extra_closure_dates") or []
    if not isinstance(extra_raw, list):
        raise top.fail("extra_closure_dates must be a list of dates")
    extra = frozenset(parse_date(file, "extra_closure_dates", d) for d in extra_raw)
    hours: dict[str, tuple[time, time]] = {}
    for entry in entries(file, document, "opening_hours"):
        entry.check_keys({"id", "start", "end", "source"})
        entry.source()
        start, end = entry.clock("start"), entry.clock("end")
        if not start < end:
            raise entry.fail("start must be before end")
        hours[entry.text("id")] = (start, end)
    return CalendarRules(
        closed_weekdays=frozenset(days),
        public_holidays_closed=holidays.boolean("closed"),
        new_year_start=_month_day(new_year, "start"),
        new_year_end=_month_day(new_year, "end"),
        extra_closure_dates=extra,
        hours=MappingProxyType(hours),
    )


def check_windows_hours(windows: Iterable[Window], rules: CalendarRules) -> None:
    """Every window's opening_hours id must be one of the calendar's."""
    for window in windows:
        if window.opening_hours is not None and window.opening_hours not in rules.hours:
            raise KnowledgeDataError(
                "windows.yaml",
                window.id,
                f"opening_hours {window.opening_hours!r} is not in calendar.yaml",
            )


@cache
def load_calendar() -> CalendarRules:
    """The packaged calendar rules, validated once per process (with the windows' ids)."""
    rules = read_calendar(data_file("calendar.yaml"))
    check_windows_hours(load_windows().values(), rules)
    return rules


def is_public_holiday(d: date) -> bool:
    """祝日 incl. 振替休日 and 国民の休日. The only function that touches jpholiday."""
    return bool(jpholiday.is_holiday(d))


def is_new_year_closure(d: date) -> bool:
    """年末年始 (12/29–1/3 by default), a range that wraps over the turn of the year."""
    rules = load_calendar()
    key = (d.month, d.day)
    start, end = rules.new_year_start, rules.new_year_end
    if start <= end:
        return start <= key <= end
    return key >= start or key <= end


def is_closed_day(d: date) -> bool:
    """Weekend, public holiday, 年末年始 or an extra closure date."""
    rules = load_calendar()
    return (
        d.weekday() in rules.closed_weekdays
        or (rules.public_holidays_closed and is_public_holiday(d))
        or is_new_year_closure(d)
        or d in rules.extra_closure_dates
    )


def is_business_day(d: date) -> bool:
    return not is_closed_day(d)


def add_business_days(d: date, n: int) -> date:
    """The n-th business day after d (n >= 1); d itself for n == 0."""
    if n < 0:
        raise ValueError("n must be >= 0")
    current = d
    for _ in range(n):
        current += timedelta(days=1)
        while is_closed_day(current):
            current += timedelta(days=1)
    return current


def to_jst(t: datetime) -> datetime:
    """Aware datetime in Asia/Tokyo; naive input is a bug (whose clock?), so it raises."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return t.astimezone(JST)


def opening_hours(window_id: str) -> tuple[time, time] | None:
    """[start, end) local times on business days; None when the seeds give no hours.
    KeyError for an unknown window id."""
    key = get_window(window_id).opening_hours
    return load_calendar().hours[key] if key is not None else None


def is_open(window_id: str, t: datetime) -> bool | None:
    """Whether the window is open at t; None when its hours are unknown."""
    hours = opening_hours(window_id)
    if hours is None:
        return None
    local = to_jst(t)
    start, end = hours
    return is_business_day(local.date()) and start <= local.time() < end


def next_opening(window_id: str, t: datetime) -> datetime | None:
    """Aware JST datetime of the next opening (t itself, in JST, if open now); None if unknown."""
    hours = opening_hours(window_id)
    if hours is None:
        return None
    local = to_jst(t)
    start, end = hours
    day = local.date()
    for _ in range(_SEARCH_DAYS):
        if is_business_day(day):
            opens = datetime.combine(day, start, tzinfo=JST)
            if day == local.date():
                if local < opens:
                    return opens
                if local.time() < end:
                    return local
            else:
                return opens
        day += timedelta(days=1)
    raise KnowledgeDataError("calendar.yaml", window_id, "no opening day within a year")


def office_is_open(t: datetime) -> bool:
    """Whether the 福祉総合相談窓口 (general_desk) is open at t."""
    return is_open("general_desk", t) is True


def nth_weekday_of_month(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based) given weekday (0 = Monday) of a month; ValueError if it has none."""
    if not 0 <= weekday <= 6 or n < 1:
        raise ValueError("weekday must be 0..6 and n >= 1")
    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    if day.month != month:
        raise ValueError(f"{year}-{month:02d} has no {n}th weekday {weekday}")
    return day
