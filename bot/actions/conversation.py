"""Apply one conversation step in ONE transaction: inbox status, resident state, the message
log (inbound with its triage, bot replies), the step's effects (handoff, consent, erase, …)
and the outbox row of the answer. Either all of it is committed or none of it is, so a worker
killed at any point leaves the event to be re-claimed and answered exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.actions import audit, residents
from bot.actions.inbox import ClaimedEvent, finish, finish_many
from bot.models.core import Handoff, Message, Outbox, Resident

#: Reply tokens live about a minute; the sender pushes after this margin instead.
REPLY_TOKEN_SECONDS = 50
MAX_MESSAGES = 5
CRISIS_PRIORITY = 0
NORMAL_PRIORITY = 5
OPEN_HANDOFF = ("new", "in_progress", "waiting_resident")


class LeaseLost(Exception):
    """Another worker re-claimed the event (our lease ran out): roll back, do nothing."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the pure conversation step produced for one event, ready to store."""

    state: dict[str, Any]
    replies: list[dict[str, Any]]
    effects: tuple[Any, ...] = ()
    urgent: bool = False
    #: The triage of the inbound text (Analysis.to_json()) and its urgency, if any.
    triage: dict[str, Any] | None = None
    urgency: str | None = None
    #: The resident's words to log (None for follow, stickers, postbacks …).
    inbound_text: str | None = None
    log_inbound: bool = True
    unhandled: list[str] = field(default_factory=list)


#: A handler applies one effect in the caller's transaction; it may return more replies
#: (booking: the confirmation or 「埋まってしまいました」 with alternatives).
EffectHandler = Callable[[Session, Resident, Any, "Applied"], "list[dict[str, Any]] | None"]


@dataclass(slots=True)
class Applied:
    """Context an effect handler gets: the event, the time, the outcome."""

    event: ClaimedEvent
    now: datetime
    outcome: Outcome


#: Effects by class name. Other layers (booking) add theirs with `register_effect`.
EFFECT_HANDLERS: dict[str, EffectHandler] = {}


def register_effect(name: str, handler: EffectHandler) -> None:
    EFFECT_HANDLERS[name] = handler


def apply_step(
    session: Session, event: ClaimedEvent, outcome: Outcome, *, now: datetime
) -> list[str]:
    """Write everything one event produced. Returns the names of effects nobody handles.

    Raises LeaseLost (caller rolls back) when the event is no longer ours.
    """
    if not finish(session, event):
        raise LeaseLost(event.id)
    resident = residents.get_or_create(session, event.line_user_id, now=now)
    if event.event_type == "follow":
        residents.follow(session, resident, now=now)
    elif event.event_type == "unfollow":
        residents.unfollow(session, resident, now=now)
    resident.state = outcome.state
    if outcome.log_inbound and event.event_type in ("message", "postback"):
        session.add(
            Message(
                resident_id=resident.id,
                direction="in",
                text=outcome.inbound_text,
                triage=outcome.triage,
                urgency="crisis" if outcome.urgent else outcome.urgency,
                inbox_event_id=event.id,
                created_at=now,
            )
        )
        # No flush here: the next query (autoflush) or the commit writes it, together with
        # whatever the effects add — one unit of work fewer per event.
    applied = Applied(event=event, now=now, outcome=outcome)
    unhandled: list[str] = []
    replies = list(outcome.replies)
    for effect in outcome.effects:
        handler = EFFECT_HANDLERS.get(type(effect).__name__)
        if handler is None:
            unhandled.append(type(effect).__name__)
            continue
        replies.extend(handler(session, resident, effect, applied) or [])
    for reply in replies:
        session.add(
            Message(
                resident_id=resident.id,
                direction="bot",
                text=reply_text(reply),
                inbox_event_id=event.id,
                created_at=now,
            )
        )
    if replies and resident.following and event.event_type != "unfollow":
        add_answer(session, event, resident, replies, urgent=outcome.urgent)
    return unhandled


def add_answer(
    session: Session,
    event: ClaimedEvent,
    resident: Resident,
    replies: list[dict[str, Any]],
    *,
    urgent: bool,
) -> None:
    """The outbox row(s) answering `event`; their dedupe keys make a second answer impossible.
    LINE takes 5 messages per request: more become further rows (pushed, after the first)."""
    for index in range(0, len(replies), MAX_MESSAGES):
        _add_outbox_row(
            session,
            event,
            resident,
            replies[index : index + MAX_MESSAGES],
            index // MAX_MESSAGES,
            urgent=urgent,
        )


def answer_after_failure(
    session: Session, event: ClaimedEvent, replies: list[dict[str, Any]]
) -> bool:
    """When the worker gives up on an event: answer it anyway (the fallback text, which names
    the 福祉総合相談窓口 and a 24-hour line), unless the resident has unfollowed. Crisis-flagged
    events go first. Same dedupe key as a normal answer, so there is never a second one.
    Returns whether a row was added."""
    found = session.execute(
        select(Resident.id, Resident.following).where(Resident.line_user_id == event.line_user_id)
    ).first()
    if found is not None and not found.following:
        return False
    urgent = event.priority == CRISIS_PRIORITY
    values = _outbox_values(
        event, found.id if found else None, event.line_user_id, replies[:MAX_MESSAGES], 0, urgent
    )
    result = session.connection().execute(_INSERT_OUTBOX[_is_postgres(session)], [values])
    return bool(getattr(result, "rowcount", 0))


def _add_outbox_row(
    session: Session,
    event: ClaimedEvent,
    resident: Resident,
    messages: list[dict[str, Any]],
    part: int,
    *,
    urgent: bool,
) -> None:
    values = _outbox_values(event, resident.id, resident.line_user_id, messages, part, urgent)
    session.connection().execute(_INSERT_OUTBOX[_is_postgres(session)], [values])


def _outbox_values(
    event: ClaimedEvent,
    resident_id: int | None,
    line_user_id: str,
    messages: list[dict[str, Any]],
    part: int,
    urgent: bool,
) -> dict[str, Any]:
    expires = event.event_timestamp + timedelta(seconds=REPLY_TOKEN_SECONDS)
    reply_token = event.reply_token if part == 0 else None
    suffix = f":{part + 1}" if part else ""
    return {
        "dedupe_key": f"answer:{event.webhook_event_id}{suffix}",
        "resident_id": resident_id,
        "line_user_id": line_user_id,
        "messages": messages,
        "reply_token": reply_token,
        "reply_token_expires_at": expires if reply_token else None,
        "retry_key": str(uuid.uuid4()),
        "origin": "bot",
        "status": "pending",
        "priority": CRISIS_PRIORITY if urgent else NORMAL_PRIORITY,
        "attempts": 0,
        # A later part must not overtake the first (same priority, later time).
        "next_attempt_at": event.event_timestamp + timedelta(milliseconds=part),
        "created_at": event.event_timestamp,
    }


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_OUTBOX: Table = Outbox.__table__  # type: ignore[assignment]
_MESSAGE: Table = Message.__table__  # type: ignore[assignment]
_RESIDENT: Table = Resident.__table__  # type: ignore[assignment]
_INSERT_OUTBOX = {
    postgres: (postgresql.insert if postgres else sqlite.insert)(_OUTBOX).on_conflict_do_nothing(
        index_elements=["dedupe_key"]
    )
    for postgres in (False, True)
}
_INSERT_RESIDENT = {
    postgres: (postgresql.insert if postgres else sqlite.insert)(_RESIDENT).on_conflict_do_nothing(
        index_elements=["line_user_id"]
    )
    for postgres in (False, True)
}
_UPDATE_STATE = (
    update(_RESIDENT)
    .where(_RESIDENT.c.id == bindparam("b_id"))
    .values(state=bindparam("b_state", type_=_RESIDENT.c.state.type))
)


# --- the fast path: a batch of plain answers in a few statements ------------------------------


def is_plain(event: ClaimedEvent, outcome: Outcome) -> bool:
    """A message or postback answered without effects: the common case, batched."""
    return not outcome.effects and event.event_type in ("message", "postback")


def apply_plain_steps(
    session: Session, items: list[tuple[ClaimedEvent, Outcome]], *, now: datetime
) -> set[int]:
    """`apply_step` for many plain events at once (see `is_plain`): inbox done, resident
    state, inbound and bot messages, outbox rows — a handful of statements for the batch.
    Returns the ids applied; the others were re-claimed by another worker (lease lost)."""
    held = finish_many(session, [event for event, _ in items])
    items = [(event, outcome) for event, outcome in items if event.id in held]
    if not items:
        return held
    connection = session.connection()
    postgres = _is_postgres(session)
    residents_by_user = _ensure_residents(
        connection, {e.line_user_id for e, _ in items}, now, postgres
    )
    connection.execute(
        _UPDATE_STATE,
        [{"b_id": residents_by_user[e.line_user_id][0], "b_state": o.state} for e, o in items],
    )
    messages: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    for event, outcome in items:
        resident_id, following = residents_by_user[event.line_user_id]
        if outcome.log_inbound:
            messages.append(
                _message_row(
                    resident_id,
                    "in",
                    outcome.inbound_text,
                    event.id,
                    now,
                    triage=outcome.triage,
                    urgency="crisis" if outcome.urgent else outcome.urgency,
                )
            )
        for reply in outcome.replies:
            messages.append(_message_row(resident_id, "bot", reply_text(reply), event.id, now))
        if outcome.replies and following:
            for index in range(0, len(outcome.replies), MAX_MESSAGES):
                outbox.append(
                    _outbox_values(
                        event,
                        resident_id,
                        event.line_user_id,
                        outcome.replies[index : index + MAX_MESSAGES],
                        index // MAX_MESSAGES,
                        outcome.urgent,
                    )
                )
    if messages:
        connection.execute(insert(_MESSAGE), messages)
    if outbox:
        connection.execute(_INSERT_OUTBOX[postgres], outbox)
    return held


def _message_row(
    resident_id: int,
    direction: str,
    text: str | None,
    inbox_event_id: int,
    now: datetime,
    *,
    triage: dict[str, Any] | None = None,
    urgency: str | None = None,
) -> dict[str, Any]:
    return {
        "resident_id": resident_id,
        "direction": direction,
        "text": text,
        "triage": triage,
        "urgency": urgency,
        "inbox_event_id": inbox_event_id,
        "staff_user_id": None,
        "created_at": now,
    }


def _ensure_residents(
    connection: Connection, users: set[str], now: datetime, postgres: bool
) -> dict[str, tuple[int, bool]]:
    """(resident id, following) per LINE user id, creating first-contact residents."""

    def load() -> dict[str, tuple[int, bool]]:
        rows = connection.execute(
            select(_RESIDENT.c.line_user_id, _RESIDENT.c.id, _RESIDENT.c.following).where(
                _RESIDENT.c.line_user_id.in_(users)
            )
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    found = load()
    missing = users - set(found)
    if missing:
        connection.execute(
            _INSERT_RESIDENT[postgres],
            [
                {
                    "line_user_id": user,
                    "following": True,
                    "followed_at": now,
                    "state": {},
                    "staff_active": False,
                    "created_at": now,
                }
                for user in sorted(missing)
            ],
        )
        found = load()
    return found


def reply_text(message: dict[str, Any]) -> str:
    """What a bot message says, for the log staff read: text, or a Flex/template altText."""
    for key in ("text", "altText"):
        value = message.get(key)
        if isinstance(value, str):
            return value
    return f"[{message.get('type', 'message')}]"


# --- effects -------------------------------------------------------------------------------


def _open_handoff(session: Session, resident: Resident) -> Handoff | None:
    return session.scalars(_OPEN_HANDOFF_OF, {"b_resident": resident.id}).first()


#: Built once (every crisis answer asks it).
_OPEN_HANDOFF_OF = (
    select(Handoff)
    .where(Handoff.resident_id == bindparam("b_resident"), Handoff.status.in_(OPEN_HANDOFF))
    .order_by(Handoff.id.desc())
    .limit(1)
)


def _windows(applied: Applied, effect: Any) -> list[str]:
    windows = getattr(effect, "windows", None)
    if windows:
        return [str(w) for w in windows]
    triage = getattr(effect, "summary", None) or applied.outcome.triage or {}
    return [str(w["id"]) for w in triage.get("windows", []) if isinstance(w, dict)]


def _create_handoff(session: Session, resident: Resident, effect: Any, applied: Applied) -> None:
    """A warm lead with the triage summary, urgency, reporter, windows, consent and contact.
    An open handoff of the same resident is updated instead of duplicated."""
    urgency = str(getattr(effect, "urgency", None) or applied.outcome.urgency or "normal")
    if applied.outcome.urgent:
        urgency = "crisis"
    consent: Any = getattr(effect, "consent", None)
    consented = bool(getattr(effect, "consented", False)) and consent is not None
    handoff = _open_handoff(session, resident)
    if handoff is None:
        handoff = Handoff(resident_id=resident.id, created_at=applied.now, status="new")
        session.add(handoff)
        handoff.urgency = urgency
    else:
        handoff.urgency = _max_urgency(handoff.urgency, urgency)
    handoff.reporter = str(getattr(effect, "reporter", None) or "unknown")
    handoff.windows = _windows(applied, effect)
    handoff.summary = dict(getattr(effect, "summary", None) or applied.outcome.triage or {})
    handoff.consented = consented
    handoff.consent_version = consent.version if consented else None
    handoff.consent_given_at = consent.given_at if consented else None
    handoff.consent_text_hash = consent.text_hash if consented else None
    handoff.contact_method = getattr(effect, "contact_method", None)
    handoff.contact_phone = getattr(effect, "contact_phone", None)
    handoff.contact_time = getattr(effect, "contact_time", None)
    handoff.updated_at = applied.now
    session.flush()
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="handoff.create",
        target_type="handoff",
        target_id=handoff.id,
        detail={"urgency": handoff.urgency, "consented": consented},
    )


def _mark_urgent(session: Session, resident: Resident, effect: Any, applied: Applied) -> None:
    """Crisis policy: staff see an urgent case whatever the consent state."""
    summary = dict(getattr(effect, "summary", None) or applied.outcome.triage or {})
    handoff = _open_handoff(session, resident)
    if handoff is None:
        handoff = Handoff(
            resident_id=resident.id,
            status="new",
            urgency="crisis",
            reporter=str(summary.get("reporter") or "unknown"),
            windows=_windows(applied, effect),
            summary=summary,
            consented=resident.consent_given_at is not None,
            consent_version=resident.consent_version,
            consent_given_at=resident.consent_given_at,
            consent_text_hash=resident.consent_text_hash,
            created_at=applied.now,
            updated_at=applied.now,
        )
        session.add(handoff)
    else:
        handoff.urgency = "crisis"
        if summary:
            handoff.summary = summary
        handoff.updated_at = applied.now
    session.flush()
    audit.record(
        session,
        actor_type="system",
        actor_id=None,
        action="handoff.urgent",
        target_type="handoff",
        target_id=handoff.id,
        detail={"urgency": "crisis"},
    )


def _max_urgency(a: str, b: str) -> str:
    order = {"crisis": 0, "concern": 1, "normal": 2}
    return a if order.get(a, 2) <= order.get(b, 2) else b


def _give_consent(session: Session, resident: Resident, effect: Any, applied: Applied) -> None:
    record = effect.record
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


def _withdraw_consent(session: Session, resident: Resident, effect: Any, applied: Applied) -> None:
    residents.withdraw_consent(resident)
    for handoff in session.scalars(select(Handoff).where(Handoff.resident_id == resident.id)):
        handoff.consented = False
        handoff.updated_at = applied.now
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="consent.withdraw",
        target_type="resident",
        target_id=resident.id,
    )


def _erase(session: Session, resident: Resident, effect: Any, applied: Applied) -> None:
    session.flush()
    residents.erase(session, resident, now=applied.now, keep_inbox_id=applied.event.id)


def _erase_message(session: Session, resident: Resident, effect: Any, applied: Applied) -> None:
    session.flush()
    residents.erase_message(session, resident, effect.message_id)


def _cancel_pending(session: Session, resident: Resident, effect: Any, applied: Applied) -> None:
    residents.cancel_pending(session, resident)
    residents.cancel_reminders(session, resident)


def _booking(
    session: Session, resident: Resident, effect: Any, applied: Applied
) -> list[dict[str, Any]]:
    from bot.actions.booking import apply_booking_effect

    return apply_booking_effect(session, resident, effect, applied.now)


register_effect("CreateHandoff", _create_handoff)
register_effect("MarkUrgent", _mark_urgent)
register_effect("GiveConsent", _give_consent)
register_effect("WithdrawConsent", _withdraw_consent)
register_effect("EraseResidentData", _erase)
register_effect("EraseMessage", _erase_message)
register_effect("CancelPending", _cancel_pending)
for _name in ("BookSlot", "RescheduleBooking", "CancelBooking"):
    register_effect(_name, _booking)
