"""Slots, bookings, reminders and staff closure days (issue: booking).

Overbooking is refused by the database itself, not only by the code: a slot's
`booked_count` may never leave [0, capacity] (CHECK), a resident holds at most one active
booking per slot (partial unique index), and triggers written in the migration refuse an
active booking that the slot's `booked_count` does not account for (so a raw INSERT that
skips the compare-and-swap fails too).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, UTCDateTime, utcnow
from bot.models.core import BigId, JsonType

ACTIVE_BOOKING = text("status = 'active'")


class Slot(Base):
    """One bookable time of one service: a consultation hour or a monthly session."""

    __tablename__ = "slot"
    __table_args__ = (
        UniqueConstraint("service_id", "starts_at", name="uq_slot_service_id_starts_at"),
        CheckConstraint(
            "booked_count <= capacity AND booked_count >= 0", name="booked_within_capacity"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: consultation | ibasho | family_gathering (knowledge.booking.SERVICE_IDS)
    service_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Staff closed this slot (or its whole day): not offered, not bookable.
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Booking(Base):
    """A resident's reservation of a seat in a slot."""

    __tablename__ = "booking"
    __table_args__ = (
        Index(
            "uq_booking_active_slot_resident",
            "slot_id",
            "resident_id",
            unique=True,
            postgresql_where=ACTIVE_BOOKING,
            sqlite_where=ACTIVE_BOOKING,
        ),
        Index("ix_booking_slot_status", "slot_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Short code the resident can quote on the phone, e.g. "K7Q-4M2".
    reference: Mapped[str] = mapped_column(String(8), unique=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    #: visit (来所) | phone (電話)
    mode: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(32))
    #: active → cancelled | attended | no_show
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: The triage summary at booking time, kept only with consent on record.
    triage_summary: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoff.id"))
    #: The confirm button's token: a double-tapped confirm finds the booking it made.
    request_key: Mapped[str | None] = mapped_column(String(96), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: resident | staff | system
    cancelled_by: Mapped[str | None] = mapped_column(String(16))


class Reminder(Base):
    """A push to send before a booking; claimed by the scheduler with a lease."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("booking_id", "kind", name="uq_reminder_booking_id_kind"),
        Index("ix_reminder_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id"))
    #: day_before | morning_of
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: pending → claimed → sent | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Which scheduler tick holds the lease (so only the holder may finish it).
    claim_token: Mapped[str | None] = mapped_column(String(36))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BookingClosure(Base):
    """A day staff closed for bookings on top of knowledge/'s calendar (JST date)."""

    __tablename__ = "booking_closure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
