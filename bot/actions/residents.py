"""Residents: follow, unfollow and erase (「削除」). Each function joins the caller's
transaction; the worker commits it together with the inbox status and outbox rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.orm import Session

from bot.actions import audit, booking, outbox, reminders
from bot.conversation.effects import ConsentRecord
from bot.models.core import Handoff, InboxEvent, Message, Outbox, Resident

_RESIDENT_BY_USER = select(Resident).where(Resident.line_user_id == bindparam("b_user"))


def get_or_create(session: Session, line_user_id: str, *, now: datetime) -> Resident:
    """The resident for a LINE user id, created (following, empty state) on first contact."""
    resident = session.scalars(_RESIDENT_BY_USER, {"b_user": line_user_id}).one_or_none()
    if resident is None:
        resident = Resident(
            line_user_id=line_user_id,
            following=True,
            followed_at=now,
            state={},
            staff_active=False,
            created_at=now,
        )
        session.add(resident)
        session.flush()
    return resident


def follow(session: Session, resident: Resident, *, now: datetime) -> None:
    """(Re-)follow starts fresh: empty conversation state, consent asked again."""
    resident.following = True
    resident.followed_at = now
    resident.unfollowed_at = None
    resident.state = {}
    _clear_consent(resident)


def unfollow(session: Session, resident: Resident, *, now: datetime) -> int:
    """Stop every push: not following, pending outbox rows cancelled. Returns that count."""
    resident.following = False
    resident.unfollowed_at = now
    cancelled = cancel_pending(session, resident)
    cancel_reminders(session, resident)
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="resident.unfollow",
        target_type="resident",
        target_id=resident.id,
        detail={"outbox_cancelled": cancelled},
    )
    return cancelled


def cancel_pending(session: Session, resident: Resident) -> int:
    """Cancel the resident's outbox rows that have not started sending (`sending` rows are
    in flight and finish on their own)."""
    return outbox.cancel_pending_for_resident(session, resident.id)


def cancel_reminders(session: Session, resident: Resident) -> int:
    """Cancel the reminders of the resident's bookings (bookings themselves stay)."""
    return reminders.cancel_for_resident(session, resident.id)


def give_consent(session: Session, resident: Resident, record: ConsentRecord) -> None:
    """The resident agreed to share with staff: which text (version, hash) and when."""
    resident.consent_version = str(record.version)
    resident.consent_given_at = record.given_at
    resident.consent_text_hash = str(record.text_hash)
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="consent.give",
        target_type="resident",
        target_id=resident.id,
        detail={"version": resident.consent_version},
    )


def withdraw_consent(session: Session, resident: Resident, *, now: datetime) -> None:
    """Stop sharing from now on: the resident's consent and every handoff's are cleared."""
    _clear_consent(resident)
    for handoff in session.scalars(select(Handoff).where(Handoff.resident_id == resident.id)):
        handoff.consented = False
        handoff.updated_at = now
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="consent.withdraw",
        target_type="resident",
        target_id=resident.id,
    )


def _clear_consent(resident: Resident) -> None:
    resident.consent_version = None
    resident.consent_given_at = None
    resident.consent_text_hash = None


def erase(
    session: Session, resident: Resident, *, now: datetime, keep_inbox_id: int | None = None
) -> None:
    """「削除」 confirmed: erase the resident's words and triage everywhere we keep them.

    Message text and triage → NULL; inbox payload texts blanked for every processed event
    (a redelivered old event hits its existing row and stays ignored); handoff summaries and
    phone numbers cleared; consent withdrawn; pending outbox cancelled; a content-free audit
    row. Events still waiting in the inbox (written after this one) are kept.
    `keep_inbox_id` is the event being processed now: it is blanked too.
    """
    # Bot lines too: they quote the resident's words (「家賃が払えない」という お話から…).
    messages = session.execute(
        update(Message)
        .where(Message.resident_id == resident.id, Message.direction.in_(("in", "bot")))
        .values(text=None, triage=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Outbox)
        .where(Outbox.resident_id == resident.id, Outbox.status.in_(("sent", "dead")))
        .values(messages=[])
        .execution_options(synchronize_session=False)
    )
    blanked = 0
    processed: ColumnElement[bool] = InboxEvent.status.not_in(("pending", "claimed"))
    if keep_inbox_id is not None:
        processed = processed | (InboxEvent.id == keep_inbox_id)
    rows = session.scalars(
        select(InboxEvent).where(InboxEvent.line_user_id == resident.line_user_id, processed)
    ).all()
    for row in rows:
        cleaned = blank_payload(row.payload)
        if cleaned != row.payload:
            row.payload = cleaned
            blanked += 1
    handoffs = session.execute(
        update(Handoff)
        .where(Handoff.resident_id == resident.id)
        .values(summary={}, contact_phone=None, contact_time=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    _clear_consent(resident)
    cancelled = cancel_pending(session, resident)
    bookings_cancelled = booking.erase_for_resident(session, resident.id, now=now)
    resident.erased_at = now
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="resident.erase",
        target_type="resident",
        target_id=resident.id,
        detail={
            "messages_erased": int(getattr(messages, "rowcount", 0) or 0),
            "inbox_blanked": blanked,
            "handoffs_cleared": int(getattr(handoffs, "rowcount", 0) or 0),
            "outbox_cancelled": cancelled,
            "bookings_cancelled": bookings_cancelled,
        },
    )


#: Payload fields that carry what the resident wrote or sent.
_CONTENT_KEYS = ("text", "emojis", "mention", "title", "address", "latitude", "longitude")


#: How far back an unsend looks for the message (LINE lets residents unsend within 24 h).
UNSEND_LOOKBACK_EVENTS = 500


def erase_message(session: Session, resident: Resident, message_id: str) -> bool:
    """The resident unsent a message: blank its text in the inbox payload and in the message
    log, with the bot's lines that answered it (they may quote it) and their sent outbox
    bodies; a content-free audit row. Answers not yet sent still go out (one may be a
    crisis answer). Handoff summaries made earlier stay with staff. Returns True when the
    message was found."""
    rows = session.scalars(
        select(InboxEvent)
        .where(
            InboxEvent.line_user_id == resident.line_user_id,
            InboxEvent.event_type == "message",
        )
        .order_by(InboxEvent.id.desc())
        .limit(UNSEND_LOOKBACK_EVENTS)
    ).all()
    found = next(
        (
            row
            for row in rows
            if isinstance(row.payload.get("message"), dict)
            and row.payload["message"].get("id") == message_id
        ),
        None,
    )
    if found is None:
        return False
    found.payload = blank_payload(found.payload)
    erased = session.execute(
        update(Message)
        .where(Message.inbox_event_id == found.id, Message.direction.in_(("in", "bot")))
        .values(text=None, triage=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Outbox)
        .where(
            or_(
                Outbox.dedupe_key == outbox.answer_key(found.webhook_event_id),
                # Long answers are split into parts: answer:<id>:2, answer:<id>:3 …
                Outbox.dedupe_key.startswith(
                    outbox.answer_prefix(found.webhook_event_id), autoescape=True
                ),
            ),
            Outbox.status.in_(("sent", "dead")),
        )
        .values(messages=[])
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="message.unsend",
        target_type="inbox_event",
        target_id=found.id,
        detail={"messages_erased": int(getattr(erased, "rowcount", 0) or 0)},
    )
    return True


def blank_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The event without what the resident wrote or sent (ids and types stay)."""
    message = payload.get("message")
    postback = payload.get("postback")
    if not isinstance(message, dict) and not isinstance(postback, dict):
        return payload
    cleaned = dict(payload)
    if isinstance(message, dict):
        cleaned["message"] = {
            k: ("" if k == "text" else None) if k in _CONTENT_KEYS else v
            for k, v in message.items()
        }
    if isinstance(postback, dict):
        cleaned["postback"] = {"data": "", "params": {}}
    return cleaned
