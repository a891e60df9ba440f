"""Slots and their bookings for the slots screen (read side).

Who booked is shown only as far as consent allows: the booking reference, mode and status
always; the phone number and the link to the case only when the resident's consent to
share is on record and the viewer has rights to that case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.queries.cases import Viewer, rights_clause
from bot.models.booking import Booking, BookingClosure, Slot
from bot.models.core import Handoff, Resident
from knowledge.calendar import JST


@dataclass
class BookingLine:
    id: int
    reference: str
    mode: str
    status: str
    phone: str | None
    handoff_id: int | None


@dataclass
class SlotLine:
    slot: Slot
    bookings: list[BookingLine] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.slot.capacity - self.slot.booked_count


@dataclass
class Day:
    day: date
    closed: bool
    slots: list[SlotLine]


def days(
    session: Session, viewer: Viewer, service_id: str, start: date, count: int = 21
) -> list[Day]:
    lo = datetime.combine(start, time.min, tzinfo=JST)
    hi = lo + timedelta(days=count)
    slots = list(
        session.scalars(
            select(Slot)
            .where(Slot.service_id == service_id, Slot.starts_at >= lo, Slot.starts_at < hi)
            .order_by(Slot.starts_at)
        )
    )
    ids = [s.id for s in slots]
    bookings: dict[int, list[BookingLine]] = {}
    if ids:
        rows = session.execute(
            select(Booking, Resident.consent_given_at)
            .join(Resident, Resident.id == Booking.resident_id)
            .where(Booking.slot_id.in_(ids), Booking.status != "cancelled")
            .order_by(Booking.id)
        ).all()
        visible_cases = set(
            session.scalars(
                select(Handoff.id).where(
                    Handoff.id.in_([b.handoff_id for b, _ in rows if b.handoff_id]),
                    rights_clause(viewer),
                )
            )
        )
        for booking, consent_at in rows:
            consented = consent_at is not None
            bookings.setdefault(booking.slot_id, []).append(
                BookingLine(
                    id=booking.id,
                    reference=booking.reference,
                    mode=booking.mode,
                    status=booking.status,
                    phone=booking.phone if consented else None,
                    handoff_id=booking.handoff_id
                    if consented and booking.handoff_id in visible_cases
                    else None,
                )
            )
    closures = set(
        session.scalars(
            select(BookingClosure.day).where(
                BookingClosure.day >= start, BookingClosure.day < start + timedelta(days=count)
            )
        )
    )
    by_day: dict[date, list[SlotLine]] = {}
    for slot in slots:
        day = slot.starts_at.astimezone(JST).date()
        by_day.setdefault(day, []).append(SlotLine(slot, bookings.get(slot.id, [])))
    out = []
    for offset in range(count):
        day = start + timedelta(days=offset)
        if day in by_day or day in closures:
            out.append(Day(day, day in closures, by_day.get(day, [])))
    return out


def booking_case(session: Session, booking_id: int) -> int | None:
    return session.scalar(select(Booking.handoff_id).where(Booking.id == booking_id))
