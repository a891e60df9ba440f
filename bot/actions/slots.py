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
from bot.actions.booking import staff_cancel
from bot.db import insert_or_ignore, is_postgresql
from bot.models.booking import Booking, BookingClosure, Slot
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
