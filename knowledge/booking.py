"""What can be booked, and the slots to offer: pure functions over booking.yaml.

The database keeps slots as rows (issue 4); this module only says which slots should exist
at a given moment, so the scheduler and the tests share one definition of "bookable".
Slots are computed on the Asia/Tokyo calendar (the desk's days and hours) and returned in
UTC, the storage convention, so a slot at 8:30 JST is 23:30 UTC of the day before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType

from knowledge._loading import (
    Entry,
    KnowledgeDataError,
    data_file,
    entries,
    parse_date,
    read_yaml,
)
from knowledge.calendar import (
    JST,
    is_closed_day,
    nth_weekday_of_month,
    opening_hours,
    to_jst,
)
from knowledge.windows import WINDOW_IDS

SERVICE_IDS = ("consultation", "ibasho", "family_gathering")
PATTERNS = frozenset({"opening_hours", "monthly"})
MODES = frozenset({"visit", "phone"})  # 来所, 電話
RESERVATIONS = frozenset({"always", "first_visit"})
#: LINE's limit for a button label.
LABEL_MAX = 20
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@dataclass(frozen=True)
class BookableService:
    """A bookable thing: consultations at the desk, or one of the two monthly sessions.

    ``reservation`` is ``"always"`` or ``"first_visit"`` (居場所: only the first visit needs
    one). For ``pattern == "monthly"`` the session fields are set; consultations use the
    window's opening hours and the global slot length and capacity.
    """

    id: str
    window_id: str
    #: The full name residents read in the booking dialogue (from the seeds).
    name: str
    #: The name on staff pages and reports.
    short_name: str
    #: The resident's button (at most LABEL_MAX characters, LINE's limit).
    label: str
    pattern: str
    covers: tuple[str, ...]
    modes: tuple[str, ...]
    reservation: str
    week_of_month: int | None = None
    weekday: int | None = None
    start: time | None = None
    end: time | None = None
    capacity: int | None = None
    start_source: str | None = None


@dataclass(frozen=True)
class BookingSettings:
    slot_minutes: int
    capacity: int
    min_notice_business_days: int
    horizon_days: int
    reminder_day_before: time
    reminder_morning_of: time
    extra_closure_dates: frozenset[date]
    services: Mapping[str, BookableService]

    def service(self, service_id: str) -> BookableService:
        """KeyError for an unknown service id."""
        return self.services[service_id]

    def service_for_window(self, window_id: str) -> BookableService | None:
        """The service a resident books for this window (None if it is not bookable)."""
        for service in self.services.values():
            if window_id in service.covers:
                return service
        return None

    def capacity_of(self, service: BookableService) -> int:
        return service.capacity if service.capacity is not None else self.capacity

    def is_closed(self, d: date) -> bool:
        """Closed for bookings: a closed day of the desk or an extra booking closure."""
        return is_closed_day(d) or d in self.extra_closure_dates


@dataclass(frozen=True)
class SlotSpec:
    """A slot that should exist; times are aware UTC."""

    service_id: str
    starts_at: datetime
    ends_at: datetime
    capacity: int


def _service(entry: Entry) -> BookableService:
    entry.check_keys(
        {"id", "window_id", "name", "short_name", "label", "pattern", "covers", "modes"}
        | {"reservation", "week_of_month", "weekday", "start", "end", "capacity", "start_source"}
    )
    service_id = entry.text("id")
    if service_id not in SERVICE_IDS:
        raise entry.fail(f"unknown service id {service_id!r}; known: {', '.join(SERVICE_IDS)}")
    window_id = entry.text("window_id")
    covers = entry.text_list("covers")
    for ident in (window_id, *covers):
        if ident not in WINDOW_IDS:
            raise entry.fail(f"unknown window id {ident!r}")
    pattern = entry.text("pattern")
    if pattern not in PATTERNS:
        raise entry.fail(f"pattern {pattern!r} is not one of {sorted(PATTERNS)}")
    modes = entry.text_list("modes")
    if not set(modes) <= MODES:
        raise entry.fail(f"modes must be among {sorted(MODES)}")
    reservation = entry.text("reservation")
    if reservation not in RESERVATIONS:
        raise entry.fail(f"reservation {reservation!r} is not one of {sorted(RESERVATIONS)}")
    name, short_name, label = entry.text("name"), entry.text("short_name"), entry.text("label")
    if len(label) > LABEL_MAX:
        raise entry.fail(f"label is longer than {LABEL_MAX} characters")
    if pattern == "opening_hours":
        if opening_hours(window_id) is None:
            raise entry.fail(f"window {window_id!r} has no opening hours in calendar.yaml")
        return BookableService(
            service_id, window_id, name, short_name, label, pattern, covers, modes, reservation
        )
    weekday = entry.text("weekday")
    if weekday not in _WEEKDAYS:
        raise entry.fail(f"weekday {weekday!r} must be one of {list(_WEEKDAYS)}")
    week = entry.integer("week_of_month", minimum=1)
    if week > 5:
        raise entry.fail("week_of_month must be 1..5")
    start, end = entry.clock("start"), entry.clock("end")
    if not start < end:
        raise entry.fail("start must be before end")
    return BookableService(
        service_id,
        window_id,
        name,
        short_name,
        label,
        pattern,
        covers,
        modes,
        reservation,
        week_of_month=week,
        weekday=_WEEKDAYS[weekday],
        start=start,
        end=end,
        capacity=entry.integer("capacity", minimum=1),
        start_source=entry.source("start_source"),
    )


def read_booking_settings(path: Path) -> BookingSettings:
    """Load and validate a booking file; raises KnowledgeDataError (a ValueError) if bad."""
    file = str(path)
    document = read_yaml(path)
    top = Entry(file, "<file>", document)
    top.check_keys(
        {"slot_minutes", "capacity", "min_notice_business_days", "horizon_days"}
        | {"reminders", "extra_closure_dates", "services"}
    )
    reminders = top.sub("reminders")
    reminders.check_keys({"day_before", "morning_of"})
    extra_raw = top.raw.get("extra_closure_dates") or []
    if not isinstance(extra_raw, list):
        raise top.fail("extra_closure_dates must be a list of dates")
    services = {s.id: s for s in (_service(e) for e in entries(file, document, "services"))}
    covered: dict[str, str] = {}
    for service in services.values():
        for window_id in service.covers:
            if window_id in covered:
                raise KnowledgeDataError(
                    file,
                    service.id,
                    f"window {window_id!r} is also covered by {covered[window_id]}",
                )
            covered[window_id] = service.id
    slot_minutes = top.integer("slot_minutes", minimum=5)
    return BookingSettings(
        slot_minutes=slot_minutes,
        capacity=top.integer("capacity", minimum=1),
        min_notice_business_days=top.integer("min_notice_business_days", minimum=0),
        horizon_days=top.integer("horizon_days", minimum=1),
        reminder_day_before=reminders.clock("day_before"),
        reminder_morning_of=reminders.clock("morning_of"),
        extra_closure_dates=frozenset(
            parse_date(file, "extra_closure_dates", d) for d in extra_raw
        ),
        services=MappingProxyType(services),
    )


@cache
def load_booking_settings() -> BookingSettings:
    """The packaged settings, validated once per process."""
    return read_booking_settings(data_file("booking.yaml"))


def first_bookable_date(now: datetime, settings: BookingSettings) -> date:
    """Earliest date with slots: the n-th open day after today in JST (today when n is 0)."""
    day = to_jst(now).date()
    for _ in range(settings.min_notice_business_days):
        day += timedelta(days=1)
        while settings.is_closed(day):
            day += timedelta(days=1)
    return day


def earliest_start(now: datetime, settings: BookingSettings | None = None) -> datetime:
    """No slot starting before this may be booked: the minimum notice, and never the past."""
    settings = settings or load_booking_settings()
    first_day = first_bookable_date(now, settings)
    return max(now, datetime.combine(first_day, time(0), tzinfo=JST).astimezone(UTC))


def last_bookable_date(
    now: datetime, settings: BookingSettings, service: BookableService | None = None
) -> date:
    """Latest date with slots: today in JST plus the horizon — and, for a monthly session,
    at least its next `MONTHLY_SESSIONS_AHEAD` sessions, however far off (a session once a
    month is otherwise out of reach for about a week of every month)."""
    last = to_jst(now).date() + timedelta(days=settings.horizon_days)
    if service is not None and service.pattern == "monthly":
        upcoming = next_sessions(service, now, settings, MONTHLY_SESSIONS_AHEAD)
        if upcoming:
            last = max(last, to_jst(upcoming[-1]).date())
    return last


#: A monthly session can always be booked this many sessions ahead.
MONTHLY_SESSIONS_AHEAD = 2


def next_sessions(
    service: BookableService,
    now: datetime,
    settings: BookingSettings | None = None,
    count: int = 1,
) -> list[datetime]:
    """The start (aware UTC) of the next `count` sessions of a monthly service that can
    still be booked (after the minimum notice, skipping closed days); [] for a service that
    runs through opening hours."""
    if service.pattern != "monthly":
        return []
    assert service.week_of_month is not None and service.weekday is not None
    assert service.start is not None
    settings = settings or load_booking_settings()
    first = first_bookable_date(now, settings)
    found: list[datetime] = []
    year, month = first.year, first.month
    for _ in range(24):  # two years: more than enough for two sessions
        try:
            day: date | None = nth_weekday_of_month(
                year, month, service.weekday, service.week_of_month
            )
        except ValueError:  # a 5th weekday some months lack
            day = None
        if day is not None and day >= first and not settings.is_closed(day):
            start = utc_at(day, service.start)
            if start > now:
                found.append(start)
                if len(found) >= count:
                    break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def utc_at(day: date, at: time) -> datetime:
    """The aware UTC instant of a Tokyo wall-clock time on a Tokyo date."""
    return datetime.combine(day, at, tzinfo=JST).astimezone(UTC)


def _opening_hour_slots(
    service: BookableService, first: date, last: date, settings: BookingSettings
) -> list[SlotSpec]:
    hours = opening_hours(service.window_id)
    if hours is None:  # guarded on load; kept for the type checker
        return []
    opens, closes = hours
    step = timedelta(minutes=settings.slot_minutes)
    capacity = settings.capacity_of(service)
    slots: list[SlotSpec] = []
    day = first
    while day <= last:
        if not settings.is_closed(day):
            start = datetime.combine(day, opens, tzinfo=JST)
            end_of_day = datetime.combine(day, closes, tzinfo=JST)
            while start + step <= end_of_day:
                slots.append(
                    SlotSpec(
                        service.id, start.astimezone(UTC), (start + step).astimezone(UTC), capacity
                    )
                )
                start += step
        day += timedelta(days=1)
    return slots


def _monthly_slots(
    service: BookableService, first: date, last: date, settings: BookingSettings
) -> list[SlotSpec]:
    assert service.week_of_month is not None and service.weekday is not None
    assert service.start is not None and service.end is not None
    slots: list[SlotSpec] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        try:
            day = nth_weekday_of_month(year, month, service.weekday, service.week_of_month)
        except ValueError:  # a 5th weekday some months lack
            day = None
        if day is not None and first <= day <= last and not settings.is_closed(day):
            slots.append(
                SlotSpec(
                    service.id,
                    utc_at(day, service.start),
                    utc_at(day, service.end),
                    settings.capacity_of(service),
                )
            )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return slots


def generate_slots(
    service_id: str, now: datetime, settings: BookingSettings | None = None
) -> list[SlotSpec]:
    """Slots that should be offered at ``now`` (aware), sorted by start.

    Closed days are skipped, nothing starts before the minimum notice (or before ``now``)
    and nothing lies beyond the horizon. KeyError for an unknown service.
    """
    settings = settings or load_booking_settings()
    service = settings.service(service_id)
    first = first_bookable_date(now, settings)
    last = last_bookable_date(now, settings, service)
    if service.pattern == "opening_hours":
        slots = _opening_hour_slots(service, first, last, settings)
    else:
        slots = _monthly_slots(service, first, last, settings)
    return [slot for slot in slots if slot.starts_at > now]
