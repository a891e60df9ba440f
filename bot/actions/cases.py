"""What staff do to a handoff (a case): claim, assign, status, notes, つなぎ先, reply, hand
back to the bot. Each function works inside the caller's write transaction and adds one
content-free audit row. Rights (who may touch which case) are checked by the caller
(admin); these functions check that the change itself makes sense.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from bot.actions import audit, booking
from bot.actions.booking import Actor
from bot.actions.outbox import PRIORITY_STAFF, enqueue_push
from bot.conversation import texts
from bot.conversation.booking import booked_messages
from bot.models.base import utcnow
from bot.models.booking import Booking
from bot.models.core import (
    HANDOFF_STATUSES,
    OPEN_HANDOFF_STATUSES,
    STAFF_ACTIVE_HANDOFF_STATUSES,
    Handoff,
    Message,
    Outbox,
    Resident,
)
from bot.models.staff import CaseNote, StaffReply, StaffUser
from knowledge.windows import WINDOW_IDS

#: Allowed moves. `closed` and `back_to_bot` can be reopened by taking the case up again.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"in_progress", "closed", "back_to_bot"}),
    "in_progress": frozenset({"waiting_resident", "connected", "closed", "back_to_bot"}),
    "waiting_resident": frozenset({"in_progress", "connected", "closed", "back_to_bot"}),
    "connected": frozenset({"in_progress", "closed", "back_to_bot"}),
    "closed": frozenset({"in_progress"}),
    "back_to_bot": frozenset({"in_progress"}),
}
NOTE_MAX_LENGTH = 4000
REPLY_MAX_LENGTH = 2000  # well under LINE's 5,000; a phone screen's worth


class CaseError(ValueError):
    """The change cannot be made; `code` is shown to staff as a Japanese message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _handoff(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise CaseError("not_found")
    return handoff


def _set_staff_active(session: Session, handoff: Handoff) -> None:
    resident = session.get(Resident, handoff.resident_id)
    if resident is not None:
        resident.staff_active = handoff.status in STAFF_ACTIVE_HANDOFF_STATUSES


def claim(session: Session, *, handoff_id: int, staff_id: int, ip: str | None = None) -> bool:
    """Take an unassigned case. Atomic: of two staff claiming at once, exactly one wins
    (a conditional UPDATE … WHERE assigned_to IS NULL); the other gets False."""
    now = utcnow()
    result = session.execute(
        update(Handoff)
        .where(
            Handoff.id == handoff_id,
            Handoff.assigned_to.is_(None),
            Handoff.status.in_(OPEN_HANDOFF_STATUSES),
        )
        .values(
            assigned_to=staff_id,
            status=case((Handoff.status == "new", "in_progress"), else_=Handoff.status),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return False
    handoff = _handoff(session, handoff_id)
    session.refresh(handoff)
    _set_staff_active(session, handoff)
    audit.record(
        session,
        actor_type="staff",
        actor_id=staff_id,
        action="case.claim",
        target_type="handoff",
        target_id=handoff_id,
        ip=ip,
    )
    return True


def assign(
    session: Session,
    *,
    handoff_id: int,
    to_user_id: int | None,
    actor_id: int,
    ip: str | None = None,
) -> Handoff:
    """Give a case to someone (or to nobody: back to the shared queue). Supervisors only —
    the caller checks the role."""
    handoff = _handoff(session, handoff_id)
    if to_user_id is not None:
        user = session.get(StaffUser, to_user_id)
        if user is None or user.disabled:
            raise CaseError("bad_assignee")
    previous = handoff.assigned_to
    handoff.assigned_to = to_user_id
    handoff.updated_at = utcnow()
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action="case.assign",
        target_type="handoff",
        target_id=handoff_id,
        detail={"from": previous, "to": to_user_id},
        ip=ip,
    )
    return handoff


def set_status(
    session: Session, *, handoff_id: int, status: str, actor_id: int, ip: str | None = None
) -> Handoff:
    """Move a case along its life cycle (TRANSITIONS)."""
    if status not in HANDOFF_STATUSES:
        raise CaseError("bad_status")
    handoff = _handoff(session, handoff_id)
    old = handoff.status
    if status == old:
        return handoff
    if status not in TRANSITIONS.get(old, frozenset()):
        raise CaseError("bad_transition")
    now = utcnow()
    handoff.status = status
    handoff.updated_at = now
    if status == "closed":
        handoff.closed_at = now
    elif old == "closed":
        handoff.closed_at = None
    if handoff.assigned_to is None and status in STAFF_ACTIVE_HANDOFF_STATUSES:
        handoff.assigned_to = actor_id
    _set_staff_active(session, handoff)
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action="case.status",
        target_type="handoff",
        target_id=handoff_id,
        detail={"from": old, "to": status},
        ip=ip,
    )
    return handoff


def hand_back_to_bot(
    session: Session,
    *,
    handoff_id: int,
    actor_id: int,
    ip: str | None = None,
    request_key: str,
) -> Handoff:
    """End the staff conversation: the bot answers the resident's messages again, and the
    resident is told so (by push, once per request_key)."""
    handoff = set_status(
        session, handoff_id=handoff_id, status="back_to_bot", actor_id=actor_id, ip=ip
    )
    resident = session.get(Resident, handoff.resident_id)
    if resident is not None:
        resident.staff_active = False
        if resident.following and resident.erased_at is None:
            # Sent when staff hand the conversation back (やさしい日本語, ends with a next step).
            hand_back = texts.text("staff.hand_back")
            enqueue_push(
                session,
                resident_id=resident.id,
                line_user_id=resident.line_user_id,
                messages=[{"type": "text", "text": hand_back}],
                dedupe_key=f"handback:{handoff_id}:{_check_key(request_key)}",
                origin="staff",
                priority=PRIORITY_STAFF,
            )
            session.add(Message(resident_id=resident.id, direction="bot", text=hand_back))
    return handoff


def add_note(
    session: Session, *, handoff_id: int, text: str, actor_id: int, ip: str | None = None
) -> CaseNote:
    """An internal note (never shown to the resident)."""
    body = text.strip()
    if not body:
        raise CaseError("empty")
    if len(body) > NOTE_MAX_LENGTH:
        raise CaseError("too_long")
    _handoff(session, handoff_id)
    note = CaseNote(handoff_id=handoff_id, staff_user_id=actor_id, text=body, created_at=utcnow())
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action="case.note",
        target_type="handoff",
        target_id=handoff_id,
        detail={"note_id": note.id},
        ip=ip,
    )
    return note


def set_connected_windows(
    session: Session,
    *,
    handoff_id: int,
    windows: list[str],
    actor_id: int,
    ip: str | None = None,
) -> Handoff:
    """Record the windows the case was connected to (つなぎ先) — the city's indicator."""
    chosen = [w for w in WINDOW_IDS if w in set(windows)]
    if len(chosen) != len(set(windows)):
        raise CaseError("bad_window")
    handoff = _handoff(session, handoff_id)
    handoff.connected_windows = chosen
    handoff.updated_at = utcnow()
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action="case.connected",
        target_type="handoff",
        target_id=handoff_id,
        detail={"windows": chosen},
        ip=ip,
    )
    return handoff


def _check_key(request_key: str) -> str:
    if not (8 <= len(request_key) <= 64) or not all(
        ch.isascii() and (ch.isalnum() or ch == "-") for ch in request_key
    ):
        raise CaseError("bad_request_key")
    return request_key


def staff_reply(
    session: Session,
    *,
    handoff_id: int,
    text: str,
    actor_id: int,
    request_key: str,
    ip: str | None = None,
) -> StaffReply:
    """Send a message to the resident on LINE (push with a stable retry key, via the outbox)
    and log it in the conversation. A repeated request_key (double-submitted form) returns
    the first reply and sends nothing more."""
    key = _check_key(request_key)
    existing = session.scalar(select(StaffReply).where(StaffReply.request_key == key))
    if existing is not None:
        return existing
    body = text.strip()
    if not body:
        raise CaseError("empty")
    if len(body) > REPLY_MAX_LENGTH:
        raise CaseError("too_long")
    handoff = _handoff(session, handoff_id)
    resident = session.get(Resident, handoff.resident_id)
    if resident is None or not resident.following or resident.erased_at is not None:
        raise CaseError("unreachable")
    now = utcnow()
    message = Message(
        resident_id=resident.id,
        direction="staff",
        text=body,
        staff_user_id=actor_id,
        created_at=now,
    )
    session.add(message)
    session.flush()
    outbox: Outbox = enqueue_push(
        session,
        resident_id=resident.id,
        line_user_id=resident.line_user_id,
        messages=[{"type": "text", "text": body}],
        dedupe_key=f"staff:{handoff_id}:{key}",
        origin="staff",
        priority=PRIORITY_STAFF,
    )
    session.flush()
    reply = StaffReply(
        request_key=key,
        handoff_id=handoff_id,
        message_id=message.id,
        outbox_id=outbox.id,
        staff_user_id=actor_id,
        created_at=now,
    )
    session.add(reply)
    if handoff.first_response_at is None:
        handoff.first_response_at = now
    if handoff.assigned_to is None:
        handoff.assigned_to = actor_id
    if handoff.status == "new":
        handoff.status = "in_progress"
    handoff.updated_at = now
    _set_staff_active(session, handoff)
    session.flush()
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action="message.sent",
        target_type="handoff",
        target_id=handoff_id,
        detail={"outbox_id": outbox.id, "message_id": message.id},
        ip=ip,
    )
    return reply


def record_view(
    session: Session,
    *,
    action: str,
    actor_id: int,
    target_type: str | None = None,
    target_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Audit a read: case view, search, export, report, audit-log view."""
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        ip=ip,
    )


def staff_book(
    session: Session,
    *,
    handoff_id: int,
    slot_id: int,
    mode: str,
    actor_id: int,
    now: datetime,
    request_key: str,
    ip: str | None = None,
) -> str:
    """Book a slot for a case's resident from the slots screen; the resident is told on
    LINE. Returns the booking action's status (booked | duplicate | already | full |
    too_many)."""
    handoff = _handoff(session, handoff_id)
    resident = session.get(Resident, handoff.resident_id)
    if resident is None or not resident.following or resident.erased_at is not None:
        raise CaseError("unreachable")
    if mode not in ("visit", "phone"):
        raise CaseError("bad_mode")
    phone = handoff.contact_phone if mode == "phone" else None
    if mode == "phone" and not phone:
        raise CaseError("no_phone")
    result = booking.book(
        session,
        resident=resident,
        slot_id=slot_id,
        mode=mode,
        phone=phone,
        now=now,
        request_key=f"staff-{_check_key(request_key)}",
        actor=Actor.staff(actor_id, ip),
    )
    if result.status == "booked" and result.booking is not None:
        enqueue_push(
            session,
            resident_id=resident.id,
            line_user_id=resident.line_user_id,
            messages=booked_messages(result.booking),
            dedupe_key=f"staff-booked:{result.booking.booking_id}",
            origin="staff",
            priority=PRIORITY_STAFF,
        )
    return result.status


def staff_move(
    session: Session,
    *,
    booking_id: int,
    new_slot_id: int,
    actor_id: int,
    now: datetime,
    request_key: str,
    ip: str | None = None,
) -> str:
    """Staff move a booking to another slot (both or neither); the resident is told on
    LINE. The one staff move: bot.actions.booking.move with the staff member as the actor
    (the old booking says cancelled_by="staff"; the audit names the staff member)."""
    key = f"staff-{_check_key(request_key)}"
    row = session.get(Booking, booking_id)
    if row is None:
        raise CaseError("not_found")
    resident = session.get(Resident, row.resident_id)
    if resident is None:
        raise CaseError("not_found")
    result = booking.move(
        session,
        resident=resident,
        booking_id=booking_id,
        new_slot_id=new_slot_id,
        now=now,
        request_key=key,
        actor=Actor.staff(actor_id, ip),
        notify=True,
    )
    return result.status
