"""Bookings in the database: slots kept filled, book / cancel / reschedule, reminders, staff.

Correctness rests on the database, not on timing:
- booking is a compare-and-swap on the slot row (``booked_count < capacity`` in the UPDATE's
  WHERE), then the booking row, in the caller's transaction — never count-then-insert;
- the CHECK, the partial unique index and the triggers of migration 0002 refuse whatever
  slips past this module (a raw INSERT, a second active booking of the same slot);
- a confirm button's request key is unique, so the same tap twice is one booking;
- reminders are claimed with a lease (SKIP LOCKED on PostgreSQL, a conditional
  UPDATE … RETURNING on SQLite) and enqueued under a stable dedupe key, so two schedulers
  never send one twice; cancelling a booking cancels its reminders and their unsent pushes.

Every function joins the caller's transaction (``with db.write() as session``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, assert_never

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.actions import audit
from bot.actions.outbox import cancel_pending_keys, enqueue_push
from bot.conversation import booking as dialogue
from bot.conversation.booking import BookingView, SlotView
from bot.conversation.effects import BookingEffect, BookSlot, CancelBooking, RescheduleBooking
from bot.db import Database, insert_or_ignore, is_postgresql, skip_locked
from bot.models.booking import Booking, BookingClosure, Reminder, Slot
from bot.models.core import OPEN_HANDOFF_STATUSES, Handoff, Resident
from knowledge.booking import (
    BookingSettings,
    first_bookable_date,
    generate_slots,
    load_booking_settings,
    utc_at,
)
from knowledge.calendar import JST, to_jst

log = logging.getLogger(__name__)

_SLOT: Table = Slot.__table__  # type: ignore[assignment]
_CLOSURE: Table = BookingClosure.__table__  # type: ignore[assignment]

Message = dict[str, Any]

#: Unambiguous letters and digits for booking references (no 0/O, 1/I/L).
_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REMINDER_KINDS = ("day_before", "morning_of")
ALTERNATIVES = 5


# ----------------------------------------------------------------------------- results


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


@dataclass(frozen=True)
class ClosureResult:
    day: date
    slots_blocked: int
    #: Active bookings on that day (cancelled, and their residents told, if asked to).
    bookings: tuple[int, ...] = field(default_factory=tuple)
    cancelled: bool = False


# ----------------------------------------------------------------------------- helpers


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def earliest_start(now: datetime, settings: BookingSettings | None = None) -> datetime:
    """No slot starting before this may be booked: the minimum notice, and never the past."""
    settings = settings or load_booking_settings()
    first_day = first_bookable_date(now, settings)
    return max(now, datetime.combine(first_day, time(0), tzinfo=JST).astimezone(UTC))


def _slot_view(slot: Slot) -> SlotView:
    return SlotView(
        slot_id=slot.id,
        service_id=slot.service_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        remaining=slot.capacity - slot.booked_count,
    )


def _booking_view(booking: Booking, slot: Slot) -> BookingView:
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


def _bookable(now: datetime) -> Any:
    return and_(
        Slot.blocked.is_(False),
        Slot.booked_count < Slot.capacity,
        Slot.starts_at >= earliest_start(now),
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


# ----------------------------------------------------------------------------- slots


def ensure_slots(session: Session, now: datetime, settings: BookingSettings | None = None) -> int:
    """Create the slots knowledge/ says should exist now (idempotent; safe with two
    schedulers: INSERT … ON CONFLICT DO NOTHING on (service_id, starts_at)).

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


def available_slots(
    session: Session, service_id: str, since: datetime, limit: int, *, now: datetime
) -> list[SlotView]:
    """Bookable slots of a service from `since` on, earliest first."""
    rows = session.scalars(
        select(Slot)
        .where(Slot.service_id == service_id, _bookable(now), Slot.starts_at >= since)
        .order_by(Slot.starts_at)
        .limit(limit)
    ).all()
    return [_slot_view(s) for s in rows]


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
    base = select(Slot).where(Slot.service_id == service_id, _bookable(now))
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
    return [_slot_view(s) for s in sorted(nearest, key=lambda s: s.starts_at)]


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
    return [_booking_view(b, s) for b, s in session.execute(query).all()]


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
            row = session.scalar(select(Slot).where(Slot.id == slot_id, _bookable(self.now)))
            return _slot_view(row) if row is not None else None

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


# ----------------------------------------------------------------------------- booking


def _take_seat(session: Session, slot_id: int, now: datetime) -> bool:
    """The compare-and-swap: one seat, only if one is free, the slot open and not too soon."""
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


def _view_of(session: Session, booking: Booking) -> BookingView:
    slot = session.get_one(Slot, booking.slot_id)
    return _booking_view(booking, slot)


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
    actor_type: str = "resident",
    actor_id: int | None = None,
) -> BookResult:
    """Book one seat for `resident` (see the module docstring for why this is safe).

    `replacing` is the booking being moved (not counted against the per-resident limit).
    """
    if mode not in ("visit", "phone"):
        raise ValueError(f"unknown mode {mode!r}")
    key = f"{resident.id}:{request_key}" if request_key else None
    earlier = _by_request_key(session, key)
    if earlier is not None:
        return BookResult("duplicate", _view_of(session, earlier))
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
        view = _view_of(session, session.get_one(Booking, same))
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
                return BookResult("duplicate", _view_of(session, earlier))
        alternatives = nearest_alternatives(
            session, slot.service_id, slot.starts_at, now=now, exclude=slot_id
        )
        return BookResult("full", alternatives=tuple(alternatives), service_id=slot.service_id)
    if not serialised:
        earlier = _by_request_key(session, key)
        if earlier is not None:  # the twin committed while we waited: undo our seat
            _give_back_seat(session, slot_id)
            return BookResult("duplicate", _view_of(session, earlier))
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
    planned = reminder_times(slot.starts_at, mode, now=now)
    for kind, due_at in planned:
        session.add(Reminder(booking_id=booking.id, kind=kind, due_at=due_at))
    audit.record(
        session,
        actor_type=actor_type,
        actor_id=actor_id if actor_id is not None else resident.id,
        action="booking.create",
        target_type="booking",
        target_id=booking.id,
        detail={"slot_id": slot_id, "service": slot.service_id, "mode": mode},
    )
    session.flush()
    log.info("booking created booking_id=%s slot_id=%s", booking.id, slot_id)
    return BookResult(
        "booked",
        _booking_view(booking, slot),
        service_id=slot.service_id,
        reminders=tuple(kind for kind, _ in planned),
    )


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
    session.execute(
        update(Reminder)
        .where(Reminder.booking_id == booking.id, Reminder.status.in_(("pending", "claimed")))
        .values(status="cancelled", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    cancel_pending_keys(
        session,
        [reminder_dedupe_key(booking.id, kind) for kind in REMINDER_KINDS],
        reason="booking cancelled",
    )
    session.refresh(booking)
    return True


def cancel(
    session: Session,
    booking_id: int,
    *,
    now: datetime,
    resident: Resident | None = None,
    by: str = "resident",
    actor_id: int | None = None,
    notify: bool = False,
) -> CancelResult:
    """Cancel a booking. With `resident`, only that resident's booking is found (a forged
    button cannot cancel someone else's). `notify` pushes the resident a kind notice with
    new times (staff cancels)."""
    query = select(Booking).where(Booking.id == booking_id)
    if resident is not None:
        query = query.where(Booking.resident_id == resident.id)
    booking = session.scalar(query)
    if booking is None:
        return CancelResult("not_found")
    if not _cancel_row(session, booking, by=by, now=now):
        return CancelResult("already", _view_of(session, booking))
    view = _view_of(session, booking)
    audit.record(
        session,
        actor_type=by if by in ("resident", "staff") else "system",
        actor_id=actor_id if actor_id is not None else booking.resident_id,
        action="booking.cancel",
        target_type="booking",
        target_id=booking.id,
        detail={"slot_id": booking.slot_id},
    )
    if notify:
        _notify_cancelled(session, booking, view, now)
    log.info("booking cancelled booking_id=%s by=%s", booking.id, by)
    return CancelResult("cancelled", view)


def _notify_cancelled(session: Session, booking: Booking, view: BookingView, now: datetime) -> None:
    owner = session.get_one(Resident, booking.resident_id)
    if not owner.following or owner.erased_at is not None:
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


def reschedule(
    session: Session,
    *,
    resident: Resident,
    booking_id: int,
    new_slot_id: int,
    now: datetime,
    request_key: str | None = None,
) -> BookResult:
    """Book the new slot and cancel the old booking in one transaction: either both happen
    or neither (a full new slot leaves the old booking as it was)."""
    old = session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.resident_id == resident.id)
    )
    if old is None or old.status != "active":
        key = f"{resident.id}:{request_key}" if request_key else None
        twin = _by_request_key(session, key)
        if twin is not None:
            return BookResult("duplicate", _view_of(session, twin))
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
    )
    if result.status != "booked":
        return result
    _cancel_row(session, old, by="resident", now=now)
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="booking.reschedule",
        target_type="booking",
        target_id=old.id,
        detail={"new_booking_id": result.booking.booking_id if result.booking else None},
    )
    return result


# ----------------------------------------------------------------------------- the seam


def apply_booking_effect(
    session: Session, resident: Resident, effect: BookingEffect, now: datetime
) -> list[Message]:
    """Carry out a booking effect of the dialogue and return the replies to send:
    the confirmation, or 「埋まってしまいました」 with the nearest alternatives, or nothing
    for a double-tapped button."""
    match effect:
        case BookSlot():
            result = book(
                session,
                resident=resident,
                slot_id=effect.slot_id,
                mode=effect.mode,
                phone=effect.phone,
                now=now,
                request_key=effect.request_key,
                summary=effect.summary,
            )
            return _answer(result)
        case RescheduleBooking():
            result = reschedule(
                session,
                resident=resident,
                booking_id=effect.booking_id,
                new_slot_id=effect.new_slot_id,
                now=now,
                request_key=effect.request_key,
            )
            return _answer(result, move=effect.booking_id, rescheduled=True)
        case CancelBooking():
            outcome = cancel(session, effect.booking_id, now=now, resident=resident)
            if outcome.status == "not_found":
                return dialogue.not_found_messages()
            if outcome.status == "already" or outcome.booking is None:
                return dialogue.already_cancelled_messages()
            alternatives: list[SlotView] = []
            if effect.offer_new:
                view = outcome.booking
                alternatives = nearest_alternatives(
                    session, view.service_id, view.starts_at, now=now, exclude=None
                )
            return dialogue.cancelled_messages(outcome.booking, alternatives)
        case _:
            assert_never(effect)


def _answer(
    result: BookResult, *, move: int | None = None, rescheduled: bool = False
) -> list[Message]:
    if result.status == "booked" and result.booking is not None:
        return dialogue.booked_messages(
            result.booking, rescheduled=rescheduled, reminders=result.reminders
        )
    if result.status == "duplicate":
        return []  # the same button again: the first tap already answered
    if result.status == "already" and result.booking is not None:
        return dialogue.already_booked_messages(result.booking)
    if result.status == "too_many":
        return dialogue.too_many_messages()
    if result.status == "not_found":
        return dialogue.not_found_messages()
    return dialogue.full_messages(result.service_id or "consultation", result.alternatives, move)


# ----------------------------------------------------------------------------- residents


def on_unfollow(session: Session, resident_id: int) -> int:
    """The resident blocked us: no reminder may go out. Bookings themselves stay (they may
    still come); returns the number of reminders cancelled."""
    booking_ids = select(Booking.id).where(Booking.resident_id == resident_id)
    result = session.execute(
        update(Reminder)
        .where(Reminder.booking_id.in_(booking_ids), Reminder.status.in_(("pending", "claimed")))
        .values(status="cancelled", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def on_erase(session: Session, resident_id: int, *, now: datetime) -> int:
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
    on_unfollow(session, resident_id)
    return cancelled


# ----------------------------------------------------------------------------- reminders


def reminder_times(
    starts_at: datetime, mode: str, *, now: datetime, settings: BookingSettings | None = None
) -> list[tuple[str, datetime]]:
    """(kind, due UTC) of a booking's reminders: the day before at the set time (JST) and,
    for 来所, the morning of. One already past at booking time, or not before the start,
    is left out (a booking made at 20:00 for tomorrow gets no day-before reminder)."""
    settings = settings or load_booking_settings()
    day = to_jst(starts_at).date()
    planned = [("day_before", utc_at(day - timedelta(days=1), settings.reminder_day_before))]
    if mode == "visit":
        planned.append(("morning_of", utc_at(day, settings.reminder_morning_of)))
    return [(kind, due) for kind, due in planned if now < due < starts_at]


def reminder_dedupe_key(booking_id: int, kind: str) -> str:
    return f"reminder:{booking_id}:{kind}"


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
        messages=dialogue.reminder_messages(_booking_view(booking, slot), kind),
        dedupe_key=reminder_dedupe_key(booking_id, kind),
        origin="reminder",
    )
    return "sent"


# ----------------------------------------------------------------------------- staff


def _audit_staff(
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


def staff_cancel(
    session: Session, booking_id: int, *, staff_id: int | None, now: datetime, notify: bool = True
) -> CancelResult:
    """Staff cancel a booking; the resident is told kindly and offered new times."""
    return cancel(session, booking_id, now=now, by="staff", actor_id=staff_id, notify=notify)


def staff_reschedule(
    session: Session,
    booking_id: int,
    new_slot_id: int,
    *,
    staff_id: int | None,
    now: datetime,
    notify: bool = True,
) -> BookResult:
    """Staff move a booking (same resident, mode and phone) and tell the resident."""
    old = session.get(Booking, booking_id)
    if old is None:
        return BookResult("not_found")
    owner = session.get_one(Resident, old.resident_id)
    result = reschedule(
        session, resident=owner, booking_id=booking_id, new_slot_id=new_slot_id, now=now
    )
    if result.status != "booked" or result.booking is None:
        return result
    _audit_staff(
        session,
        staff_id,
        "booking.staff_reschedule",
        "booking",
        booking_id,
        {"new_booking_id": result.booking.booking_id},
    )
    if notify and owner.following and owner.erased_at is None:
        enqueue_push(
            session,
            resident_id=owner.id,
            line_user_id=owner.line_user_id,
            messages=dialogue.staff_rescheduled_messages(result.booking),
            dedupe_key=f"booking-moved:{booking_id}",
            origin="staff",
        )
    return result


@dataclass(frozen=True)
class StaffBookingRow:
    """One booking as the staff list shows it (the summary only if it was shared)."""

    booking_id: int
    reference: str
    service_id: str
    starts_at: datetime
    mode: str
    phone: str | None
    status: str
    resident_id: int
    handoff_id: int | None
    has_summary: bool


def bookings_between(
    session: Session, since: datetime, until: datetime, *, service_id: str | None = None
) -> list[StaffBookingRow]:
    """Bookings (any status) whose slot starts in [since, until), in time order."""
    query = (
        select(Booking, Slot)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Slot.starts_at >= since, Slot.starts_at < until)
        .order_by(Slot.starts_at, Booking.id)
    )
    if service_id is not None:
        query = query.where(Slot.service_id == service_id)
    return [
        StaffBookingRow(
            booking_id=b.id,
            reference=b.reference,
            service_id=s.service_id,
            starts_at=s.starts_at,
            mode=b.mode,
            phone=b.phone,
            status=b.status,
            resident_id=b.resident_id,
            handoff_id=b.handoff_id,
            has_summary=bool(b.triage_summary),
        )
        for b, s in session.execute(query).all()
    ]


def mark_outcome(session: Session, booking_id: int, outcome: str, *, staff_id: int | None) -> bool:
    """Record attended / no_show for an active booking."""
    if outcome not in ("attended", "no_show"):
        raise ValueError(f"unknown outcome {outcome!r}")
    result = session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == "active")
        .values(status=outcome)
        .execution_options(synchronize_session=False)
    )
    done = _rowcount(result) == 1
    if done:
        _audit_staff(session, staff_id, f"booking.{outcome}", "booking", booking_id)
    return done


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
        action = "slot.block" if blocked else "slot.reopen"
        _audit_staff(session, staff_id, action, "slot", slot_id)
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
        _audit_staff(session, staff_id, "slot.capacity", "slot", slot_id, {"capacity": capacity})
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
    _audit_staff(
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
    _audit_staff(
        session,
        staff_id,
        "booking.reopen_day",
        "booking_closure",
        day.isoformat(),
        {"slots_reopened": reopened},
    )
    return reopened


def closure_days(session: Session) -> list[date]:
    return list(session.scalars(select(BookingClosure.day).order_by(BookingClosure.day)).all())


def slot_counts(
    session: Session, service_id: str, since: datetime, until: datetime
) -> Sequence[tuple[int, datetime, int, int, bool]]:
    """(slot id, starts_at, capacity, booked_count, blocked) for a staff overview."""
    rows = session.execute(
        select(Slot.id, Slot.starts_at, Slot.capacity, Slot.booked_count, Slot.blocked)
        .where(Slot.service_id == service_id, Slot.starts_at >= since, Slot.starts_at < until)
        .order_by(Slot.starts_at)
    ).all()
    return [(int(a), b, int(c), int(d), bool(e)) for a, b, c, d, e in rows]


def count_active(session: Session, slot_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Booking.slot_id == slot_id, Booking.status == "active")
        )
        or 0
    )
