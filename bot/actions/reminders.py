"""Booking reminders: scheduled with the booking, claimed by the scheduler with a lease,
finished into an outbox push under a stable dedupe key, cancelled with the booking.

Two schedulers never send one twice: the claim is SKIP LOCKED on PostgreSQL and a
conditional UPDATE … RETURNING on SQLite, only the lease holder (claim_token) finishes a
reminder, and the push's dedupe key is one per booking and kind.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bot.actions.outbox import cancel_pending_keys, enqueue_push
from bot.conversation import booking as dialogue
from bot.db import is_postgresql, skip_locked
from bot.models.booking import Booking, Reminder, Slot
from bot.models.core import Resident
from bot.queries.booking import booking_view
from knowledge.reminders import reminders_for

REMINDER_KINDS = ("day_before", "morning_of")
_UNFINISHED = ("pending", "claimed")


def dedupe_key(booking_id: int, kind: str) -> str:
    return f"reminder:{booking_id}:{kind}"


def schedule(session: Session, booking: Booking, slot: Slot, *, now: datetime) -> tuple[str, ...]:
    """The new booking's reminders (knowledge.reminders: one already past, or not before
    the start, is left out). Returns the kinds scheduled, so the confirmation promises
    only what will come."""
    planned = reminders_for(slot.starts_at, booking.mode, now=now)
    for reminder in planned:
        session.add(Reminder(booking_id=booking.id, kind=reminder.kind, due_at=reminder.due_at))
    return tuple(reminder.kind for reminder in planned)


def cancel_for_booking(session: Session, booking_id: int) -> None:
    """The booking was cancelled: its reminders, and their pushes not yet sent."""
    session.execute(
        update(Reminder)
        .where(Reminder.booking_id == booking_id, Reminder.status.in_(_UNFINISHED))
        .values(status="cancelled", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    cancel_pending_keys(
        session,
        [dedupe_key(booking_id, kind) for kind in REMINDER_KINDS],
        reason="booking cancelled",
    )


def cancel_for_resident(session: Session, resident_id: int) -> int:
    """The resident blocked us or erased their data: no reminder may go out. Bookings
    themselves stay (they may still come); returns the number of reminders cancelled."""
    booking_ids = select(Booking.id).where(Booking.resident_id == resident_id)
    result = session.execute(
        update(Reminder)
        .where(Reminder.booking_id.in_(booking_ids), Reminder.status.in_(_UNFINISHED))
        .values(status="cancelled", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim_due_reminders(
    session: Session, *, now: datetime, token: str, lease: timedelta, limit: int = 100
) -> list[int]:
    """Lease up to `limit` due reminders (pending, or claimed with an expired lease)."""
    due = and_(
        Reminder.due_at <= now,
        or_(
            Reminder.status == "pending",
            and_(Reminder.status == "claimed", Reminder.lease_until < now),
        ),
    )
    chosen = skip_locked(
        select(Reminder.id).where(due).order_by(Reminder.due_at, Reminder.id).limit(limit),
        postgres=is_postgresql(session),
    )
    result = session.execute(
        update(Reminder)
        .where(Reminder.id.in_(chosen.scalar_subquery()), due)
        .values(status="claimed", lease_until=now + lease, claim_token=token)
        .returning(Reminder.id)
        .execution_options(synchronize_session=False)
    )
    return [int(row[0]) for row in result.all()]


def dispatch_reminder(session: Session, reminder_id: int, *, token: str, now: datetime) -> str:
    """Finish a claimed reminder: enqueue its push, or drop it. Returns sent | skipped | lost.

    Only the lease holder finishes it (claim_token), and only while the booking is active,
    the resident still follows us and the booking has not started.
    """
    finished = session.execute(
        update(Reminder)
        .where(
            Reminder.id == reminder_id,
            Reminder.status == "claimed",
            Reminder.claim_token == token,
        )
        .values(status="sent", sent_at=now, lease_until=None)
        .returning(Reminder.booking_id, Reminder.kind)
        .execution_options(synchronize_session=False)
    ).first()
    if finished is None:
        return "lost"
    booking_id, kind = int(finished[0]), str(finished[1])
    booking = session.get_one(Booking, booking_id)
    slot = session.get_one(Slot, booking.slot_id)
    resident = session.get_one(Resident, booking.resident_id)
    if (
        booking.status != "active"
        or not resident.following
        or resident.erased_at is not None
        or slot.starts_at <= now
    ):
        session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id)
            .values(status="cancelled", sent_at=None)
            .execution_options(synchronize_session=False)
        )
        return "skipped"
    enqueue_push(
        session,
        resident_id=resident.id,
        line_user_id=resident.line_user_id,
        messages=dialogue.reminder_messages(booking_view(booking, slot), kind),
        dedupe_key=dedupe_key(booking_id, kind),
        origin="reminder",
    )
    return "sent"
