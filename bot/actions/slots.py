"""Slots: kept filled to the horizon knowledge/ sets, and what staff change about them
(block or reopen one, its capacity, close or reopen a whole day).

Filling is idempotent and safe with two schedulers (INSERT … ON CONFLICT DO NOTHING on
(service_id, starts_at)). Staff changes join the caller's transaction and write a
content-free audit row each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, and_, select, update
from sqlalchemy.orm import Session

from bot.actions import audit
from bot.actions import booking as booking_actions
from bot.actions.booking import staff_cancel
from bot.db import insert_or_ignore, is_postgresql
from bot.models.booking import Booking, BookingClosure, Slot
from bot.models.core import Resident
from knowledge.booking import BookingSettings, generate_slots, load_booking_settings
from knowledge.calendar import JST, to_jst

_SLOT: Table = Slot.__table__  # type: ignore[assignment]
_CLOSURE: Table = BookingClosure.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class ClosureResult:
    day: date
    slots_blocked: int
    #: Active bookings on that day (cancelled, and their residents told, if asked to).
    bookings: tuple[int, ...] = field(default_factory=tuple)
    cancelled: bool = False


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _audit(
    session: Session,
    staff_id: int | None,
    action: str,
    target_type: str,
    target_id: Any,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor_type="staff",
        actor_id=staff_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )


def ensure_slots(session: Session, now: datetime, settings: BookingSettings | None = None) -> int:
    """Create the slots knowledge/ says should exist now (idempotent; safe with two
    schedulers).

    Existing rows are never changed except that a future slot on a day that has since
    been closed (staff closure or a new closure date in knowledge/) is blocked; its
    bookings stay for staff to handle. Returns the number of slots created.
    """
    settings = settings or load_booking_settings()
    closed = set(session.scalars(select(BookingClosure.day)).all())
    created = 0
    postgres = is_postgresql(session)
    for service_id in settings.services:
        specs = [
            spec
            for spec in generate_slots(service_id, now, settings)
            if to_jst(spec.starts_at).date() not in closed
        ]
        if not specs:
            continue
        rows = [
            {
                "service_id": spec.service_id,
                "starts_at": spec.starts_at,
                "ends_at": spec.ends_at,
                "capacity": spec.capacity,
                "booked_count": 0,
                "blocked": False,
                "created_at": now,
            }
            for spec in specs
        ]
        stmt = (
            insert_or_ignore(_SLOT, conflict=["service_id", "starts_at"], postgres=postgres)
            .values(rows)
            .returning(_SLOT.c.id)
        )
        created += len(session.execute(stmt).all())
    future = session.scalars(
        select(Slot).where(Slot.starts_at > now, Slot.blocked.is_(False))
    ).all()
    for slot in future:
        day = to_jst(slot.starts_at).date()
        if day in closed or settings.is_closed(day):
            slot.blocked = True
    return created


def set_slot_blocked(
    session: Session, slot_id: int, blocked: bool, *, staff_id: int | None
) -> bool:
    """Block (not offered, not bookable) or reopen one slot. Existing bookings stay."""
    result = session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(blocked=blocked)
        .execution_options(synchronize_session=False)
    )
    done = _rowcount(result) == 1
    if done:
        _audit(session, staff_id, "slot.block" if blocked else "slot.reopen", "slot", slot_id)
    return done


def set_slot_capacity(
    session: Session, slot_id: int, capacity: int, *, staff_id: int | None
) -> bool:
    """Change a slot's capacity; refused (False) below the seats already booked."""
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    result = session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked_count <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    done = _rowcount(result) == 1
    if done:
        _audit(session, staff_id, "slot.capacity", "slot", slot_id, {"capacity": capacity})
    return done


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)
    return start, start + timedelta(days=1)


def close_day(
    session: Session,
    day: date,
    *,
    staff_id: int | None,
    now: datetime,
    cancel_bookings: bool = False,
) -> ClosureResult:
    """Close a JST day for bookings (now and when it enters the horizon later). Its active
    bookings are listed, and cancelled with a notice to each resident if asked."""
    session.execute(
        insert_or_ignore(_CLOSURE, conflict=["day"], postgres=is_postgresql(session)).values(
            day=day, created_by=staff_id, created_at=now
        )
    )
    start, end = _day_bounds(day)
    in_day = and_(Slot.starts_at >= start, Slot.starts_at < end)
    blocked = _rowcount(
        session.execute(
            update(Slot)
            .where(in_day, Slot.blocked.is_(False))
            .values(blocked=True)
            .execution_options(synchronize_session=False)
        )
    )
    affected = session.scalars(
        select(Booking.id)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(in_day, Booking.status == "active")
        .order_by(Booking.id)
    ).all()
    if cancel_bookings:
        for booking_id in affected:
            staff_cancel(session, booking_id, staff_id=staff_id, now=now)
    _audit(
        session,
        staff_id,
        "booking.close_day",
        "booking_closure",
        day.isoformat(),
        {"slots_blocked": blocked, "bookings": len(affected), "cancelled": cancel_bookings},
    )
    return ClosureResult(day, blocked, tuple(int(b) for b in affected), cancel_bookings)


def reopen_day(session: Session, day: date, *, staff_id: int | None, now: datetime) -> int:
    """Undo close_day: the day's future slots are offered again (unless knowledge/ closes
    the day anyway). Returns the number of slots reopened."""
    settings = load_booking_settings()
    existing = session.scalar(select(BookingClosure).where(BookingClosure.day == day))
    if existing is not None:
        session.delete(existing)
    if settings.is_closed(day):
        return 0
    start, end = _day_bounds(day)
    reopened = _rowcount(
        session.execute(
            update(Slot)
            .where(Slot.starts_at >= start, Slot.starts_at < end, Slot.starts_at > now)
            .values(blocked=False)
            .execution_options(synchronize_session=False)
        )
    )
    _audit(
        session,
        staff_id,
        "booking.reopen_day",
        "booking_closure",
        day.isoformat(),
        {"slots_reopened": reopened},
    )
    return reopened


# ----------------------------------------------------------------------------- sessions
# The monthly sessions (居場所, 家族の集い) are dates staff manage: add one, cancel one (its
# residents are told), or move one (each booking follows to the new time and its resident
# is told). A cancelled or moved date stays as a blocked row, so ensure_slots never
# re-creates it from the monthly pattern.

SESSION_CAPACITY_MAX = 1000


class SessionError(ValueError):
    """A refused session change; `code` is shown to staff as a short message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def session_services(settings: BookingSettings | None = None) -> dict[str, str]:
    """The services whose dates staff manage one by one: id -> the staff pages' name."""
    settings = settings or load_booking_settings()
    return {s.id: s.short_name for s in settings.services.values() if s.pattern == "monthly"}


def _check_session_time(
    service_id: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    now: datetime,
    settings: BookingSettings,
) -> None:
    if service_id not in session_services(settings):
        raise SessionError("not_session")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("aware datetimes only")
    if starts_at <= now:
        raise SessionError("past")
    if ends_at <= starts_at or ends_at - starts_at > timedelta(hours=12):
        raise SessionError("bad_time")
    if not 1 <= capacity <= SESSION_CAPACITY_MAX:
        raise SessionError("bad_capacity")
    if settings.is_closed(to_jst(starts_at).date()):
        raise SessionError("closed_day")


def _place_session(
    session: Session,
    service_id: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    now: datetime,
) -> Slot:
    """A new open slot at that time, or a cancelled (blocked, empty) one there reopened."""
    day = to_jst(starts_at).date()
    if session.scalar(select(BookingClosure.day).where(BookingClosure.day == day)) is not None:
        raise SessionError("closed_day")
    existing = session.scalar(
        select(Slot).where(Slot.service_id == service_id, Slot.starts_at == starts_at)
    )
    if existing is not None:
        if not existing.blocked or existing.booked_count > 0:
            raise SessionError("exists")
        existing.blocked = False
        existing.ends_at = ends_at
        existing.capacity = capacity
        session.flush()
        return existing
    slot = Slot(
        service_id=service_id,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        booked_count=0,
        blocked=False,
        created_at=now,
    )
    session.add(slot)
    session.flush()
    return slot


def add_session(
    session: Session,
    *,
    service_id: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    staff_id: int | None,
    now: datetime,
    settings: BookingSettings | None = None,
) -> Slot:
    """Add a date of a monthly session (e.g. an extra 居場所), open for booking at once."""
    settings = settings or load_booking_settings()
    _check_session_time(service_id, starts_at, ends_at, capacity, now, settings)
    slot = _place_session(session, service_id, starts_at, ends_at, capacity, now)
    _audit(
        session,
        staff_id,
        "slot.add",
        "slot",
        slot.id,
        {"service": service_id, "capacity": capacity},
    )
    return slot


def _future_session(session: Session, slot_id: int, now: datetime) -> Slot:
    slot = session.get(Slot, slot_id)
    if slot is None or slot.service_id not in session_services():
        raise SessionError("not_found")
    if slot.starts_at <= now:
        raise SessionError("past")
    return slot


def _active_bookings(session: Session, slot_id: int) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking)
            .where(Booking.slot_id == slot_id, Booking.status == "active")
            .order_by(Booking.id)
        )
    )


def cancel_session(
    session: Session, slot_id: int, *, staff_id: int | None, now: datetime, ip: str | None = None
) -> int:
    """Cancel one date: it is no longer offered, and each booking on it is cancelled with a
    kind notice to the resident (new times offered). Returns the bookings cancelled."""
    slot = _future_session(session, slot_id, now)
    bookings = _active_bookings(session, slot.id)
    for booking in bookings:
        staff_cancel(session, booking.id, staff_id=staff_id, now=now, ip=ip)
    session.execute(
        update(Slot)
        .where(Slot.id == slot.id)
        .values(blocked=True)
        .execution_options(synchronize_session=False)
    )
    _audit(
        session,
        staff_id,
        "slot.cancel",
        "slot",
        slot.id,
        {"service": slot.service_id, "bookings": len(bookings)},
    )
    return len(bookings)


def move_session(
    session: Session,
    slot_id: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int | None = None,
    staff_id: int | None,
    now: datetime,
    ip: str | None = None,
    settings: BookingSettings | None = None,
) -> Slot:
    """Move one date to another time: a slot there (capacity kept unless given), every
    booking moved onto it (its resident told the new time on LINE), the old date closed.
    All or nothing: a booking that cannot follow (too soon, no room) refuses the move."""
    settings = settings or load_booking_settings()
    old = _future_session(session, slot_id, now)
    seats = capacity if capacity is not None else old.capacity
    _check_session_time(old.service_id, starts_at, ends_at, seats, now, settings)
    if starts_at == old.starts_at:
        raise SessionError("same_time")
    bookings = _active_bookings(session, old.id)
    if seats < len(bookings):
        raise SessionError("too_small")
    new = _place_session(session, old.service_id, starts_at, ends_at, seats, now)
    for booking in bookings:
        resident = session.get(Resident, booking.resident_id)
        if resident is None:
            raise SessionError("move_failed")
        result = booking_actions.move(
            session,
            resident=resident,
            booking_id=booking.id,
            new_slot_id=new.id,
            now=now,
            request_key=f"session-move:{old.id}:{new.id}:{booking.id}",
            actor=booking_actions.Actor.staff(staff_id, ip),
            notify=True,
        )
        if result.status != "booked":
            raise SessionError("move_failed")
    session.execute(
        update(Slot)
        .where(Slot.id == old.id)
        .values(blocked=True)
        .execution_options(synchronize_session=False)
    )
    _audit(
        session,
        staff_id,
        "slot.move",
        "slot",
        old.id,
        {"service": old.service_id, "new_slot_id": new.id, "bookings": len(bookings)},
    )
    return new
