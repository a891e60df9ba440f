"""Crisis lines (いのちの電話, 189, DV相談＋ …): reviewed data, shown when a life may be at risk.

A resident in crisis at 3 a.m. must get a number that answers now, so every line carries
machine-readable hours and ``lines_for`` puts open and 24-hour lines first. The numbers are
not in the seeds; they are the table of windows.md and a test pins each one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path

from knowledge._loading import Entry, KnowledgeDataError, data_file, entries, read_yaml
from knowledge.calendar import JST, office_is_open, to_jst

TOPICS = frozenset(
    {"emergency", "police", "suicide", "mental", "child", "abuse", "dv", "consumer", "general"}
)
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
# 119, 110, 189, 188; 0120-279-338, 0570-064-556, 0120-0-78310; #8008, #9110.
_NUMBER_RE = re.compile(r"^(?:1\d{2}|0\d{2,4}-\d{1,4}-\d{3,5}|#\d{4})$")


@dataclass(frozen=True)
class _Weekly:
    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class _Monthly:
    day: int
    start: time
    hours: int


@dataclass(frozen=True)
class CrisisLine:
    """One line; ``is_open`` is None when its hours are unknown or vary."""

    id: str
    name: str
    number: str
    hours_text: str
    topics: tuple[str, ...]
    source: str
    always_open: bool = False
    hours_known: bool = True
    weekly: tuple[_Weekly, ...] = field(default=(), repr=False)
    monthly: tuple[_Monthly, ...] = field(default=(), repr=False)

    def is_open(self, t: datetime) -> bool | None:
        """Whether the line answers at t (aware); None when the hours are not known."""
        local = to_jst(t)
        if self.always_open:
            return True
        if not self.hours_known:
            return None
        for rule in self.weekly:
            if local.weekday() in rule.days and rule.start <= local.time() < rule.end:
                return True
        return any(_in_monthly(rule, local) for rule in self.monthly)


def _in_monthly(rule: _Monthly, local: datetime) -> bool:
    # A window that starts on day N may run into the next month, so check this and last month.
    first = local.date().replace(day=1)
    for month_start in (first, (first - timedelta(days=1)).replace(day=1)):
        try:
            day = date(month_start.year, month_start.month, rule.day)
        except ValueError:
            continue
        opens = datetime.combine(day, rule.start, tzinfo=JST)
        if opens <= local < opens + timedelta(hours=rule.hours):
            return True
    return False


def _hours(entry: Entry) -> tuple[bool, bool, tuple[_Weekly, ...], tuple[_Monthly, ...]]:
    hours = entry.sub("hours")
    hours.check_keys({"always", "unknown", "weekly", "monthly"})
    if hours.raw.get("always") is True:
        return True, True, (), ()
    if hours.raw.get("unknown") is True:
        return False, False, (), ()
    weekly: list[_Weekly] = []
    for index, raw in enumerate(hours.raw.get("weekly") or []):
        rule = Entry(entry.file, f"{hours.name}.weekly[{index}]", raw)
        rule.check_keys({"days", "start", "end"})
        days = rule.text_list("days")
        if not set(days) <= set(_WEEKDAYS):
            raise rule.fail(f"days must be among {sorted(_WEEKDAYS)}")
        start, end = rule.clock("start"), rule.clock("end")
        if not start < end:
            raise rule.fail("start must be before end")
        weekly.append(_Weekly(frozenset(_WEEKDAYS[d] for d in days), start, end))
    monthly: list[_Monthly] = []
    for index, raw in enumerate(hours.raw.get("monthly") or []):
        rule = Entry(entry.file, f"{hours.name}.monthly[{index}]", raw)
        rule.check_keys({"day", "start", "hours"})
        day = rule.integer("day", minimum=1)
        if day > 31:
            raise rule.fail("day must be 1..31")
        monthly.append(_Monthly(day, rule.clock("start"), rule.integer("hours", minimum=1)))
    if not weekly and not monthly:
        raise hours.fail("give always: true, unknown: true, or weekly/monthly rules")
    return False, True, tuple(weekly), tuple(monthly)


def _line(entry: Entry) -> CrisisLine:
    entry.check_keys({"id", "name", "number", "hours_text", "hours", "topics", "source"})
    number = entry.raw.get("number")
    if not isinstance(number, str) or not _NUMBER_RE.match(number):
        raise entry.fail(f"number {number!r} does not look like a phone number (quote it)")
    topics = entry.text_list("topics")
    unknown = sorted(set(topics) - TOPICS)
    if unknown:
        raise entry.fail(f"unknown topic(s) {', '.join(unknown)}")
    source = entry.text("source")
    always, known, weekly, monthly = _hours(entry)
    return CrisisLine(
        id=entry.text("id"),
        name=entry.text("name"),
        number=number,
        hours_text=entry.text("hours_text"),
        topics=topics,
        source=source,
        always_open=always,
        hours_known=known,
        weekly=weekly,
        monthly=monthly,
    )


def read_crisis_lines(path: Path) -> tuple[CrisisLine, ...]:
    """Load and validate a crisis-lines file; raises KnowledgeDataError (a ValueError)."""
    file = str(path)
    lines = tuple(_line(entry) for entry in entries(file, read_yaml(path), "lines"))
    numbers = [line.number for line in lines]
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicated:
        raise KnowledgeDataError(file, "lines", f"duplicate number(s) {', '.join(duplicated)}")
    return lines


@cache
def load_crisis_lines() -> tuple[CrisisLine, ...]:
    """The packaged crisis lines in file order, validated once per process."""
    return read_crisis_lines(data_file("crisis_lines.yaml"))


def lines_for(topics: Iterable[str], t: datetime, limit: int = 3) -> tuple[CrisisLine, ...]:
    """Lines for these topics: open now first, 24-hour ones first outside office hours.

    Lines known to be closed at t are left out unless nothing else fits. With no topics the
    general lines are used. "suicide" always yields at least one line (a 24-hour one).
    """
    wanted = set(topics) or {"general"}
    unknown = sorted(wanted - TOPICS)
    if unknown:
        raise ValueError(f"unknown crisis topic(s): {', '.join(unknown)}")
    if limit < 1:
        raise ValueError("limit must be >= 1")
    after_hours = not office_is_open(t)
    ranked: list[tuple[int, int, int, CrisisLine]] = []
    for index, line in enumerate(load_crisis_lines()):
        if not wanted & set(line.topics):
            continue
        state = line.is_open(t)
        open_rank = 0 if state is True else 1 if state is None else 2
        night_rank = 0 if (after_hours and line.always_open) else 1
        ranked.append((open_rank, night_rank, index, line))
    ranked.sort(key=lambda item: item[:3])
    reachable = [item[3] for item in ranked if item[0] < 2]
    chosen = reachable or [item[3] for item in ranked]
    return tuple(chosen[:limit])
