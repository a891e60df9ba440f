"""Booking reads: bookable slots, the nearest alternatives to a full one, a resident's
bookings, and the booking dialogue's port on the database (bot.conversation.BookingPort).

"Bookable" is one clause (`bookable`): not blocked, a seat free, and not before
knowledge.booking.earliest_start (the minimum notice, never the past). The write side's
compare-and-swap (bot.actions.booking) checks the same conditions in its UPDATE.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from bot.conversation.booking import BookingView, SlotView
from bot.db import Database
from bot.models.booking import Booking, Slot
from bot.models.core import Resident
from knowledge.booking import earliest_start, load_booking_settings

#: How many open slots a full one is answered with.
ALTERNATIVES = 5


def slot_view(slot: Slot) -> SlotView:
    return SlotView(
        slot_id=slot.id,
        service_id=slot.service_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        remaining=slot.capacity - slot.booked_count,
    )


def booking_view(booking: Booking, slot: Slot) -> BookingView:
    return BookingView(
        booking_id=booking.id,
        reference=booking.reference,
        service_id=slot.service_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        mode=booking.mode,
        phone=booking.phone,
        status=booking.status,
    )


def view_of(session: Session, booking: Booking) -> BookingView:
    return booking_view(booking, session.get_one(Slot, booking.slot_id))


def bookable(now: datetime) -> ColumnElement[bool]:
    """A slot a resident may book at `now`."""
    return and_(
        Slot.blocked.is_(False),
        Slot.booked_count < Slot.capacity,
        Slot.starts_at >= earliest_start(now),
    )


def available_slots(
    session: Session, service_id: str, since: datetime, limit: int, *, now: datetime
) -> list[SlotView]:
    """Bookable slots of a service from `since` on, earliest first."""
    rows = session.scalars(
        select(Slot)
        .where(Slot.service_id == service_id, bookable(now), Slot.starts_at >= since)
        .order_by(Slot.starts_at)
        .limit(limit)
    ).all()
    return [slot_view(s) for s in rows]


def bookable_slot(session: Session, slot_id: int, *, now: datetime) -> SlotView | None:
    row = session.scalar(select(Slot).where(Slot.id == slot_id, bookable(now)))
    return slot_view(row) if row is not None else None


def nearest_alternatives(
    session: Session,
    service_id: str,
    around: datetime,
    *,
    now: datetime,
    exclude: int | None = None,
    limit: int = ALTERNATIVES,
) -> list[SlotView]:
    """The open slots nearest in time to `around` (before or after), in time order."""
    base = select(Slot).where(Slot.service_id == service_id, bookable(now))
    if exclude is not None:
        base = base.where(Slot.id != exclude)
    after = session.scalars(
        base.where(Slot.starts_at >= around).order_by(Slot.starts_at).limit(limit)
    ).all()
    before = session.scalars(
        base.where(Slot.starts_at < around).order_by(Slot.starts_at.desc()).limit(limit)
    ).all()
    nearest = sorted([*after, *before], key=lambda s: abs((s.starts_at - around).total_seconds()))[
        :limit
    ]
    return [slot_view(s) for s in sorted(nearest, key=lambda s: s.starts_at)]


def bookings_of(
    session: Session, resident_id: int, *, now: datetime, include_past: bool = False
) -> list[BookingView]:
    """A resident's active bookings (upcoming unless include_past), earliest first."""
    query = (
        select(Booking, Slot)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.resident_id == resident_id, Booking.status == "active")
        .order_by(Slot.starts_at)
    )
    if not include_past:
        query = query.where(Slot.ends_at > now)
    return [booking_view(b, s) for b, s in session.execute(query).all()]


class DbBookingPort:
    """The dialogue's window on the database (bot.conversation.booking.BookingPort), read
    through short read sessions. Build one per event, with its time and its resident."""

    def __init__(self, db: Database, now: datetime, line_user_id: str | None = None) -> None:
        self.db = db
        self.now = now
        self.line_user_id = line_user_id

    def can_book(self, window_id: str) -> bool:
        return load_booking_settings().service_for_window(window_id) is not None

    def available_slots(self, service_id: str, since: datetime, limit: int) -> list[SlotView]:
        with self.db.read() as session:
            return available_slots(session, service_id, since, limit, now=self.now)

    def slot(self, slot_id: int) -> SlotView | None:
        with self.db.read() as session:
            return bookable_slot(session, slot_id, now=self.now)

    def bookings_of(self) -> list[BookingView]:
        if self.line_user_id is None:
            return []
        with self.db.read() as session:
            resident_id = session.scalar(
                select(Resident.id).where(Resident.line_user_id == self.line_user_id)
            )
            if resident_id is None:
                return []
            return bookings_of(session, resident_id, now=self.now)
