"""Apply one conversation step in ONE transaction: inbox status, resident state, the message
log (inbound with its triage, bot replies), the step's effects (handoff, consent, erase, …)
and the outbox row of the answer. Either all of it is committed or none of it is, so a worker
killed at any point leaves the event to be re-claimed and answered exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.actions import outbox, residents
from bot.actions.effects import EffectContext, apply_effect
from bot.actions.inbox import ClaimedEvent, finish, finish_many
from bot.conversation.effects import Effect
from bot.conversation.messages import MAX_MESSAGES
from bot.db import insert_or_ignore, is_postgresql
from bot.models.core import Message, Resident


class LeaseLost(Exception):
    """Another worker re-claimed the event (our lease ran out): roll back, do nothing."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the pure conversation step produced for one event, ready to store."""

    state: dict[str, Any]
    replies: list[dict[str, Any]]
    effects: tuple[Effect, ...] = ()
    urgent: bool = False
    #: The triage of the inbound text (Analysis.to_json()) and its urgency, if any.
    triage: dict[str, Any] | None = None
    urgency: str | None = None
    #: The resident's words to log (None for follow, stickers, postbacks …).
    inbound_text: str | None = None
    log_inbound: bool = True


def apply_step(session: Session, event: ClaimedEvent, outcome: Outcome, *, now: datetime) -> None:
    """Write everything one event produced (every effect has its case in apply_effect).

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
    context = EffectContext(
        now=now,
        inbox_event_id=event.id,
        triage=outcome.triage,
        urgency=outcome.urgency,
        urgent=outcome.urgent,
    )
    replies = list(outcome.replies)
    for effect in outcome.effects:
        replies.extend(apply_effect(session, resident, effect, context))
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


def _answer_rows(
    event: ClaimedEvent,
    resident_id: int | None,
    line_user_id: str,
    replies: list[dict[str, Any]],
    urgent: bool,
) -> list[dict[str, Any]]:
    return outbox.answer_rows(
        webhook_event_id=event.webhook_event_id,
        event_time=event.event_timestamp,
        reply_token=event.reply_token,
        resident_id=resident_id,
        line_user_id=line_user_id,
        replies=replies,
        urgent=urgent,
    )


def add_answer(
    session: Session,
    event: ClaimedEvent,
    resident: Resident,
    replies: list[dict[str, Any]],
    *,
    urgent: bool,
) -> None:
    """The outbox row(s) answering `event`; their dedupe keys make a second answer impossible."""
    outbox.insert_rows(
        session, _answer_rows(event, resident.id, resident.line_user_id, replies, urgent)
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
    urgent = event.priority == outbox.PRIORITY_CRISIS
    rows = _answer_rows(
        event,
        found.id if found else None,
        event.line_user_id,
        replies[:MAX_MESSAGES],
        urgent,
    )
    return outbox.insert_rows(session, rows) > 0


_MESSAGE: Table = Message.__table__  # type: ignore[assignment]
_RESIDENT: Table = Resident.__table__  # type: ignore[assignment]
_INSERT_RESIDENT = {
    pg: insert_or_ignore(_RESIDENT, conflict=["line_user_id"], postgres=pg) for pg in (False, True)
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
    residents_by_user = _ensure_residents(connection, {e.line_user_id for e, _ in items}, now)
    connection.execute(
        _UPDATE_STATE,
        [{"b_id": residents_by_user[e.line_user_id][0], "b_state": o.state} for e, o in items],
    )
    messages: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
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
            answers.extend(
                _answer_rows(
                    event, resident_id, event.line_user_id, outcome.replies, outcome.urgent
                )
            )
    if messages:
        connection.execute(insert(_MESSAGE), messages)
    outbox.insert_rows(connection, answers)
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
    connection: Connection, users: set[str], now: datetime
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
            _INSERT_RESIDENT[is_postgresql(connection)],
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
