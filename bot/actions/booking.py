"""Bookings: book, cancel, move — for the resident in the chat or for staff, whose actor
is passed through to the booking row (`cancelled_by`) and the audit log.

Correctness rests on the database, not on timing:
- booking is a compare-and-swap on the slot row (``booked_count < capacity`` in the UPDATE's
  WHERE), then the booking row, in the caller's transaction — never count-then-insert;
- the CHECK, the partial unique index and the triggers of migration 0002 refuse whatever
  slips past this module (a raw INSERT, a second active booking of the same slot);
- a confirm button's request key is unique, so the same tap twice is one booking;
- a move books the new slot and cancels the old booking in one transaction: both or neither;
- cancelling a booking cancels its reminders and their unsent pushes (bot.actions.reminders).

Every function joins the caller's transaction (``with db.write() as session``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.actions import audit, reminders
from bot.actions.outbox import PRIORITY_STAFF, enqueue_push
from bot.conversation import booking as dialogue
from bot.conversation.booking import BookingView, SlotView
from bot.db import is_postgresql
from bot.models.booking import Booking, Slot
from bot.models.core import OPEN_HANDOFF_STATUSES, Handoff, Resident
from bot.queries.booking import booking_view, nearest_alternatives, view_of
from knowledge.booking import MODES, earliest_start

log = logging.getLogger(__name__)

#: Unambiguous letters and digits for booking references (no 0/O, 1/I/L).
_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
OUTCOMES = ("attended", "no_show")


@dataclass(frozen=True)
class Actor:
    """Who changes a booking: the resident in the chat, or a staff member (with the
    address the request came from, for the audit log)."""

    type: Literal["resident", "staff"]
    id: int | None
    ip: str | None = None

    @classmethod
    def resident(cls, resident_id: int) -> Actor:
        return cls("resident", resident_id)

    @classmethod
    def staff(cls, staff_id: int | None, ip: str | None = None) -> Actor:
        return cls("staff", staff_id, ip)


@dataclass(frozen=True)
class BookResult:
    """booked | duplicate (same button again) | already (this slot is booked) | full |
    too_many | not_found (no such booking to move)."""

    status: str
    booking: BookingView | None = None
    alternatives: tuple[SlotView, ...] = ()
    service_id: str | None = None
    #: Reminder kinds scheduled for a new booking.
    reminders: tuple[str, ...] = ()


@dataclass(frozen=True)
class CancelResult:
    """cancelled | already (not active any more) | not_found (or not this resident's)."""

    status: str
    booking: BookingView | None = None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    target_id: int,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type="booking",
        target_id=target_id,
        detail=detail,
        ip=actor.ip,
    )


def new_reference(session: Session) -> str:
    """A fresh short code like "K7Q-4M2" (31^6 ≈ 8.9e8 codes; checked for a clash)."""
    for _ in range(8):
        raw = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
        reference = f"{raw[:3]}-{raw[3:]}"
        taken = session.scalar(select(Booking.id).where(Booking.reference == reference))
        if taken is None:
            return reference
    raise RuntimeError("could not find a free booking reference")


# ----------------------------------------------------------------------------- seats


def _take_seat(session: Session, slot_id: int, now: datetime) -> bool:
    """The compare-and-swap: one seat, only if one is free, the slot open and not too soon
    (the same conditions as bot.queries.booking.bookable)."""
    result = session.execute(
        update(Slot)
        .where(
            Slot.id == slot_id,
            Slot.booked_count < Slot.capacity,
            Slot.blocked.is_(False),
            Slot.starts_at >= earliest_start(now),
        )
        .values(booked_count=Slot.booked_count + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _give_back_seat(session: Session, slot_id: int) -> None:
    session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(booked_count=Slot.booked_count - 1)
        .execution_options(synchronize_session=False)
    )


def _by_request_key(session: Session, request_key: str | None) -> Booking | None:
    if request_key is None:
        return None
    return session.scalar(select(Booking).where(Booking.request_key == request_key))


def _request_key(resident: Resident, request_key: str | None) -> str | None:
    return f"{resident.id}:{request_key}" if request_key else None


def _summary_for(
    session: Session, resident: Resident, summary: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, int | None]:
    """The triage summary to hand to the 相談員 (only with consent on record), and the
    resident's open handoff to link the booking to."""
    handoff = session.scalar(
        select(Handoff)
        .where(Handoff.resident_id == resident.id, Handoff.status.in_(OPEN_HANDOFF_STATUSES))
        .order_by(Handoff.created_at.desc(), Handoff.id.desc())
        .limit(1)
    )
    consented = resident.consent_given_at is not None or (handoff is not None and handoff.consented)
    snapshot: dict[str, Any] | None = None
    if consented:
        if summary:
            snapshot = dict(summary)
        elif handoff is not None and handoff.summary:
            snapshot = dict(handoff.summary)
    return snapshot, handoff.id if handoff is not None else None


# ----------------------------------------------------------------------------- book


def book(
    session: Session,
    *,
    resident: Resident,
    slot_id: int,
    mode: str,
    phone: str | None,
    now: datetime,
    request_key: str | None = None,
    summary: Mapping[str, Any] | None = None,
    replacing: int | None = None,
    actor: Actor | None = None,
) -> BookResult:
    """Book one seat for `resident` (see the module docstring for why this is safe).

    `replacing` is the booking being moved (not counted against the per-resident limit);
    `actor` defaults to the resident.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    actor = actor or Actor.resident(resident.id)
    key = _request_key(resident, request_key)
    earlier = _by_request_key(session, key)
    if earlier is not None:
        return BookResult("duplicate", view_of(session, earlier))
    slot = session.get(Slot, slot_id)
    if slot is None:
        return BookResult("full")
    if mode == "phone" and phone is None:
        raise ValueError("a phone booking needs a number")
    # One look at the resident's active bookings answers both "this slot already?" and
    # "too many?" (the partial unique index backs the first up).
    held = session.execute(
        select(Booking.id, Booking.slot_id, Slot.ends_at)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.resident_id == resident.id, Booking.status == "active")
    ).all()
    same = next((row.id for row in held if row.slot_id == slot_id), None)
    if same is not None:
        view = view_of(session, session.get_one(Booking, same))
        return BookResult("already", view, service_id=slot.service_id)
    upcoming = [row for row in held if row.ends_at > now and row.id != replacing]
    if len(upcoming) >= dialogue.MAX_ACTIVE_BOOKINGS:
        return BookResult("too_many", service_id=slot.service_id)
    serialised = not is_postgresql(session)  # SQLite's BEGIN IMMEDIATE: no twin can
    if not _take_seat(session, slot_id, now):  # commit between our first look and the CAS
        if not serialised:
            # On PostgreSQL the CAS may have waited for a twin tap's transaction: look again.
            earlier = _by_request_key(session, key)
            if earlier is not None:
                return BookResult("duplicate", view_of(session, earlier))
        alternatives = nearest_alternatives(
            session, slot.service_id, slot.starts_at, now=now, exclude=slot_id
        )
        return BookResult("full", alternatives=tuple(alternatives), service_id=slot.service_id)
    if not serialised:
        earlier = _by_request_key(session, key)
        if earlier is not None:  # the twin committed while we waited: undo our seat
            _give_back_seat(session, slot_id)
            return BookResult("duplicate", view_of(session, earlier))
    snapshot, handoff_id = _summary_for(session, resident, summary)
    booking = Booking(
        reference=new_reference(session),
        slot_id=slot_id,
        resident_id=resident.id,
        mode=mode,
        phone=phone if mode == "phone" else None,
        status="active",
        triage_summary=snapshot,
        handoff_id=handoff_id,
        request_key=key,
        created_at=now,
    )
    session.add(booking)
    session.flush()
    planned = reminders.schedule(session, booking, slot, now=now)
    _audit(
        session,
        actor,
        "booking.create",
        booking.id,
        {"slot_id": slot_id, "service": slot.service_id, "mode": mode},
    )
    session.flush()
    log.info("booking created booking_id=%s slot_id=%s", booking.id, slot_id)
    return BookResult(
        "booked", booking_view(booking, slot), service_id=slot.service_id, reminders=planned
    )


# ----------------------------------------------------------------------------- cancel


def _cancel_row(session: Session, booking: Booking, *, by: str, now: datetime) -> bool:
    """Cancel an active booking: status, seat back, reminders and their unsent pushes."""
    result = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == "active")
        .values(status="cancelled", cancelled_at=now, cancelled_by=by)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return False
    _give_back_seat(session, booking.slot_id)
    reminders.cancel_for_booking(session, booking.id)
    session.refresh(booking)
    return True


def cancel(
    session: Session,
    booking_id: int,
    *,
    now: datetime,
    resident: Resident | None = None,
    actor: Actor | None = None,
    notify: bool = False,
) -> CancelResult:
    """Cancel a booking. With `resident`, only that resident's booking is found (a forged
    button cannot cancel someone else's). `actor` defaults to the booking's resident.
    `notify` pushes the resident a kind notice with new times (staff cancels)."""
    query = select(Booking).where(Booking.id == booking_id)
    if resident is not None:
        query = query.where(Booking.resident_id == resident.id)
    booking = session.scalar(query)
    if booking is None:
        return CancelResult("not_found")
    actor = actor or Actor.resident(booking.resident_id)
    if not _cancel_row(session, booking, by=actor.type, now=now):
        return CancelResult("already", view_of(session, booking))
    view = view_of(session, booking)
    _audit(session, actor, "booking.cancel", booking.id, {"slot_id": booking.slot_id})
    if notify:
        _tell_cancelled(session, booking, view, now)
    log.info("booking cancelled booking_id=%s by=%s", booking.id, actor.type)
    return CancelResult("cancelled", view)


def staff_cancel(
    session: Session,
    booking_id: int,
    *,
    staff_id: int | None,
    now: datetime,
    notify: bool = True,
    ip: str | None = None,
) -> CancelResult:
    """Staff cancel a booking; the resident is told kindly and offered new times."""
    return cancel(session, booking_id, now=now, actor=Actor.staff(staff_id, ip), notify=notify)


def _reachable(session: Session, resident_id: int) -> Resident | None:
    owner = session.get_one(Resident, resident_id)
    return owner if owner.following and owner.erased_at is None else None


def _tell_cancelled(session: Session, booking: Booking, view: BookingView, now: datetime) -> None:
    owner = _reachable(session, booking.resident_id)
    if owner is None:
        return
    alternatives = nearest_alternatives(session, view.service_id, view.starts_at, now=now)
    enqueue_push(
        session,
        resident_id=owner.id,
        line_user_id=owner.line_user_id,
        messages=dialogue.cancelled_messages(view, alternatives, by_staff=True),
        dedupe_key=f"booking-cancelled:{booking.id}",
        origin="staff",
    )


# ----------------------------------------------------------------------------- move


def move(
    session: Session,
    *,
    resident: Resident,
    booking_id: int,
    new_slot_id: int,
    now: datetime,
    request_key: str | None = None,
    actor: Actor | None = None,
    notify: bool = False,
) -> BookResult:
    """Book the new slot and cancel the old booking in one transaction: either both happen
    or neither (a full new slot leaves the old booking as it was). Same resident, mode and
    phone. `actor` defaults to the resident; `notify` pushes the resident the new time
    (a staff move)."""
    actor = actor or Actor.resident(resident.id)
    old = session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.resident_id == resident.id)
    )
    if old is None or old.status != "active":
        twin = _by_request_key(session, _request_key(resident, request_key))
        if twin is not None:
            return BookResult("duplicate", view_of(session, twin))
        return BookResult("not_found")
    result = book(
        session,
        resident=resident,
        slot_id=new_slot_id,
        mode=old.mode,
        phone=old.phone,
        now=now,
        request_key=request_key,
        summary=old.triage_summary,
        replacing=old.id,
        actor=actor,
    )
    if result.status != "booked" or result.booking is None:
        return result
    _cancel_row(session, old, by=actor.type, now=now)
    _audit(
        session,
        actor,
        "booking.move",
        old.id,
        {"new_booking_id": result.booking.booking_id, "slot_id": new_slot_id},
    )
    owner = _reachable(session, resident.id) if notify else None
    if owner is not None:
        enqueue_push(
            session,
            resident_id=owner.id,
            line_user_id=owner.line_user_id,
            messages=dialogue.staff_rescheduled_messages(result.booking),
            dedupe_key=f"booking-moved:{old.id}",
            origin="staff",
            priority=PRIORITY_STAFF,
        )
    return result


# ----------------------------------------------------------------------------- after the visit


def mark_outcome(session: Session, booking_id: int, outcome: str, *, staff_id: int | None) -> bool:
    """Record attended / no_show for an active booking."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    result = session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == "active")
        .values(status=outcome)
        .execution_options(synchronize_session=False)
    )
    done = _rowcount(result) == 1
    if done:
        _audit(session, Actor.staff(staff_id), f"booking.{outcome}", booking_id)
    return done


# ----------------------------------------------------------------------------- 「削除」


def erase_for_resident(session: Session, resident_id: int, *, now: datetime) -> int:
    """「削除」: cancel upcoming bookings (seats back, reminders off) and clear the phone
    numbers and triage summaries of all of them. Returns the number cancelled."""
    upcoming = session.scalars(
        select(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.resident_id == resident_id, Booking.status == "active", Slot.ends_at > now)
    ).all()
    cancelled = sum(1 for b in upcoming if _cancel_row(session, b, by="resident", now=now))
    session.execute(
        update(Booking)
        .where(Booking.resident_id == resident_id)
        .values(phone=None, triage_summary=None)
        .execution_options(synchronize_session=False)
    )
    reminders.cancel_for_resident(session, resident_id)
    return cancelled
