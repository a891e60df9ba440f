"""Outbox writes: enqueue, claim with a lease, and the end states (sent, retry, dead, cancelled).

Exactly-once out rests on three rules kept here:
- a row is created once (`dedupe_key` is unique; enqueueing the same key again returns the
  existing row);
- a reply token is handed out at most once: the claim that sees it also clears it, in the
  same transaction, so after a crash the row can only be pushed (a reply has no retry key);
- every push of a row carries the row's `retry_key`, so LINE answers a repeat with 409.

Claiming is safe with several senders: PostgreSQL locks the chosen rows with
FOR UPDATE SKIP LOCKED; SQLite serialises writers (BEGIN IMMEDIATE) and the conditional
UPDATE … RETURNING only takes rows that are still due.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, Table, Text, and_, bindparam, cast, or_, select, update
from sqlalchemy.orm import Session

from bot.actions import audit
from bot.conversation.messages import MAX_MESSAGES  # LINE: 5 message objects per request
from bot.db import insert_or_ignore, is_postgresql, skip_locked
from bot.models.base import utcnow
from bot.models.core import Outbox, Resident

#: Outbox priorities: crisis answers are claimed and sent before anything else; a staff
#: member's words (reply, hand back, booking notices) before the bot's ordinary answers.
PRIORITY_CRISIS = 0
PRIORITY_STAFF = 3
PRIORITY_NORMAL = 5
PRIORITY_BULK = 9

#: How long we trust a reply token after the webhook event. LINE documents no hard limit
#: but asks for a prompt reply; past this we push instead (push works at any time).
REPLY_TOKEN_TTL = timedelta(seconds=50)
#: A token that expires within this margin is not worth a reply attempt.
REPLY_TOKEN_MARGIN = timedelta(seconds=2)
ORIGINS = frozenset({"bot", "staff", "reminder", "system"})

Json = dict[str, Any]


@dataclass(frozen=True)
class ClaimedOutbox:
    """A row this sender now owns until `lease_until`. Plain data: no session needed."""

    id: int
    resident_id: int | None
    line_user_id: str
    #: The messages as the database holds them (a JSON array as text): sent as they are.
    messages_json: str
    #: Set only on the first claim while the token is fresh: reply with it, once.
    reply_token: str | None
    retry_key: str
    #: Claims so far, this one included.
    attempts: int
    priority: int


# --- the one place an outbox row is made --------------------------------------------------


def reply_token_expiry(event_time: datetime) -> datetime:
    """When to stop trying a reply token received with an event at `event_time`."""
    return event_time + REPLY_TOKEN_TTL


def answer_key(webhook_event_id: str, part: int = 0) -> str:
    """The dedupe key of the answer to one webhook event: `answer:<id>`, and for the later
    parts of a long answer `answer:<id>:2`, `answer:<id>:3` … (one event, one answer)."""
    return f"answer:{webhook_event_id}" + (f":{part + 1}" if part else "")


def answer_prefix(webhook_event_id: str) -> str:
    """What every later part's key starts with (see `answer_key`)."""
    return f"answer:{webhook_event_id}:"


def row(
    *,
    dedupe_key: str,
    line_user_id: str,
    messages: Sequence[Json],
    resident_id: int | None,
    origin: str,
    priority: int,
    at: datetime,
    reply_token: str | None = None,
    reply_token_expires_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> Json:
    """The values of one outbox row (a fresh retry key, pending, due at `at` unless told)."""
    if not 1 <= len(messages) <= MAX_MESSAGES:
        raise ValueError(f"an outbox row holds 1 to {MAX_MESSAGES} messages, not {len(messages)}")
    if origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}")
    if reply_token is not None and reply_token_expires_at is None:
        reply_token_expires_at = reply_token_expiry(at)
    return {
        "dedupe_key": dedupe_key,
        "resident_id": resident_id,
        "line_user_id": line_user_id,
        "messages": list(messages),
        "reply_token": reply_token,
        "reply_token_expires_at": reply_token_expires_at if reply_token else None,
        "retry_key": str(uuid.uuid4()),
        "origin": origin,
        "status": "pending",
        "priority": priority,
        "attempts": 0,
        "next_attempt_at": next_attempt_at or at,
        "created_at": at,
    }


def answer_rows(
    *,
    webhook_event_id: str,
    event_time: datetime,
    reply_token: str | None,
    resident_id: int | None,
    line_user_id: str,
    replies: Sequence[Json],
    urgent: bool,
) -> list[Json]:
    """The row(s) answering one webhook event. LINE takes 5 messages per request: more
    become further rows, pushed after the first; only the first may use the reply token."""
    rows: list[Json] = []
    for part, start in enumerate(range(0, len(replies), MAX_MESSAGES)):
        rows.append(
            row(
                dedupe_key=answer_key(webhook_event_id, part),
                line_user_id=line_user_id,
                messages=replies[start : start + MAX_MESSAGES],
                resident_id=resident_id,
                origin="bot",
                priority=PRIORITY_CRISIS if urgent else PRIORITY_NORMAL,
                at=event_time,
                reply_token=reply_token if part == 0 else None,
                # A later part must not overtake the first (same priority, later time).
                next_attempt_at=event_time + timedelta(milliseconds=part),
            )
        )
    return rows


_TABLE: Table = Outbox.__table__  # type: ignore[assignment]
#: Built once per dialect: the answer of every event goes through it.
_INSERT = {
    pg: insert_or_ignore(_TABLE, conflict=["dedupe_key"], postgres=pg) for pg in (False, True)
}


def insert_rows(bind: Session | Connection, rows: Sequence[Json]) -> int:
    """Insert rows made by `row` / `answer_rows`; a dedupe key already there is skipped.
    Returns how many rows are new."""
    if not rows:
        return 0
    connection = bind.connection() if isinstance(bind, Session) else bind
    result = connection.execute(_INSERT[is_postgresql(connection)], list(rows))
    return int(getattr(result, "rowcount", 0) or 0)


def enqueue(
    session: Session,
    *,
    line_user_id: str,
    messages: list[Json],
    dedupe_key: str,
    resident_id: int | None = None,
    origin: str = "bot",
    priority: int = PRIORITY_NORMAL,
    reply_token: str | None = None,
    reply_token_expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Outbox:
    """Add a message batch to send (in the caller's transaction). Idempotent on dedupe_key:
    a second call with the same key returns the first row and changes nothing."""
    values = row(
        dedupe_key=dedupe_key,
        line_user_id=line_user_id,
        messages=messages,
        resident_id=resident_id,
        origin=origin,
        priority=priority,
        at=now or utcnow(),
        reply_token=reply_token,
        reply_token_expires_at=reply_token_expires_at,
    )
    session.flush()  # what the caller added (its resident, its message) goes in first
    insert_rows(session, [values])
    return session.scalars(select(Outbox).where(Outbox.dedupe_key == dedupe_key)).one()


def enqueue_push(
    session: Session,
    *,
    resident_id: int | None,
    line_user_id: str,
    messages: list[Json],
    dedupe_key: str,
    origin: str,
    priority: int = PRIORITY_NORMAL,
) -> Outbox:
    """A push with no reply token: staff answers, reminders, system notices."""
    return enqueue(
        session,
        resident_id=resident_id,
        line_user_id=line_user_id,
        messages=messages,
        dedupe_key=dedupe_key,
        origin=origin,
        priority=priority,
    )


def _claim_statement(postgres: bool) -> Any:
    """UPDATE … RETURNING the chosen due rows (built once per dialect: it runs on every
    sender turn, and building plus caching a statement costs more than running it)."""
    now = bindparam("b_now", type_=Outbox.next_attempt_at.type)
    due = or_(
        and_(Outbox.status == "pending", Outbox.next_attempt_at <= now),
        and_(Outbox.status == "sending", Outbox.lease_until < now),
    )
    chosen = (
        select(Outbox.id)
        .where(due)
        .order_by(Outbox.priority, Outbox.next_attempt_at, Outbox.id)
        .limit(bindparam("b_limit", type_=Integer))
    )
    chosen = skip_locked(chosen, postgres=postgres)
    return (
        update(Outbox)
        .where(Outbox.id.in_(chosen.scalar_subquery()))
        .values(
            status="sending",
            lease_until=bindparam("b_lease_until", type_=Outbox.lease_until.type),
            attempts=Outbox.attempts + 1,
        )
        .returning(
            Outbox.id,
            Outbox.resident_id,
            Outbox.line_user_id,
            # As text: the sender splices it into the request body unparsed (bot.line_api).
            cast(Outbox.messages, Text).label("messages_json"),
            Outbox.reply_token,
            Outbox.reply_token_expires_at,
            Outbox.retry_key,
            Outbox.attempts,
            Outbox.priority,
        )
        .execution_options(synchronize_session=False)
    )


_CLAIM = {postgres: _claim_statement(postgres) for postgres in (False, True)}
_SPEND_REPLY_TOKENS = (
    update(Outbox)
    .where(Outbox.id.in_(bindparam("b_ids", expanding=True)), Outbox.reply_token.is_not(None))
    .values(reply_token=None)
    .execution_options(synchronize_session=False)
)

_NOT_FOLLOWING = select(Resident.id).where(
    Resident.id.in_(bindparam("b_ids", expanding=True)), Resident.following.is_(False)
)


def claim_due(
    session: Session, *, now: datetime, limit: int, lease_seconds: float
) -> list[ClaimedOutbox]:
    """Take up to `limit` due rows (crisis first), lease them, and return them.

    Due = pending and next_attempt_at has come, or sending with an expired lease (a sender
    died mid-call: the row is pushed again with the same retry key). Rows of residents who
    no longer follow the account are cancelled here instead of being returned.
    """
    if limit <= 0:
        return []
    connection = session.connection()
    rows = connection.execute(
        _CLAIM[is_postgresql(connection)],
        {
            "b_now": now,
            "b_lease_until": now + timedelta(seconds=lease_seconds),
            "b_limit": limit,
        },
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    # Whatever happens next, this claim was the token's one chance.
    connection.execute(_SPEND_REPLY_TOKENS, {"b_ids": ids})
    resident_ids = {row.resident_id for row in rows if row.resident_id is not None}
    gone: set[int] = set()
    if resident_ids:
        gone = set(connection.execute(_NOT_FOLLOWING, {"b_ids": list(resident_ids)}).scalars())
    cancelled = [row.id for row in rows if row.resident_id in gone]
    if cancelled:
        connection.execute(
            update(Outbox)
            .where(Outbox.id.in_(cancelled))
            .values(status="cancelled", lease_until=None, last_error="not_following")
            .execution_options(synchronize_session=False)
        )
    fresh_after = now + REPLY_TOKEN_MARGIN
    claimed = [
        ClaimedOutbox(
            id=row.id,
            resident_id=row.resident_id,
            line_user_id=row.line_user_id,
            messages_json=row.messages_json,
            reply_token=(
                row.reply_token
                if row.reply_token
                and row.reply_token_expires_at is not None
                and row.reply_token_expires_at > fresh_after
                else None
            ),
            retry_key=row.retry_key,
            attempts=row.attempts,
            priority=row.priority,
        )
        for row in rows
        if row.resident_id not in gone
    ]
    claimed.sort(key=lambda c: (c.priority, c.id))
    return claimed


def mark_sent(
    session: Session, outbox_id: int, *, via: str, now: datetime, note: str | None = None
) -> bool:
    """LINE has the messages (200, or 409 for a retry key it accepted before)."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status == "sending")
        .values(status="sent", sent_via=via, sent_at=now, lease_until=None, last_error=note)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def mark_sent_many(
    session: Session, outbox_ids: list[int], *, via: str, now: datetime, note: str | None = None
) -> int:
    """mark_sent for many rows in one statement (the sender records a batch at once)."""
    if not outbox_ids:
        return 0
    result = session.connection().execute(
        update(Outbox)
        .where(Outbox.id.in_(outbox_ids), Outbox.status == "sending")
        .values(status="sent", sent_via=via, sent_at=now, lease_until=None, last_error=note)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def schedule_retry(
    session: Session, outbox_id: int, *, next_attempt_at: datetime, error: str
) -> bool:
    """Try again at `next_attempt_at`, with the same retry key. `error` is a short code."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status == "sending")
        .values(
            status="pending",
            next_attempt_at=next_attempt_at,
            lease_until=None,
            last_error=error[:255],
        )
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def dead_letter(session: Session, outbox_id: int, *, error: str, now: datetime) -> bool:
    """Never retry (LINE refused the request, or we gave up). Visible to operators as status
    `dead` with `last_error`, and as an audit row. `error` must be content-free."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status.in_(("sending", "pending")))
        .values(status="dead", lease_until=None, last_error=error[:255])
        .execution_options(synchronize_session=False)
    )
    if not _changed(result):
        return False
    audit.record(
        session,
        actor_type="system",
        actor_id="sender",
        action="outbox_dead",
        target_type="outbox",
        target_id=outbox_id,
        detail={"error": error[:64].replace(" ", "_")},
    )
    return True


def cancel_pending_for_resident(
    session: Session, resident_id: int, *, reason: str = "cancelled"
) -> int:
    """Cancel what has not been sent yet (unfollow, 「削除」). Returns how many rows."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.resident_id == resident_id, Outbox.status == "pending")
        .values(status="cancelled", lease_until=None, last_error=reason[:255])
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel_pending_keys(session: Session, dedupe_keys: Sequence[str], *, reason: str) -> int:
    """Cancel the rows with these dedupe keys that have not started sending (a cancelled
    booking's reminders). Returns how many rows."""
    if not dedupe_keys:
        return 0
    result = session.execute(
        update(Outbox)
        .where(Outbox.dedupe_key.in_(list(dedupe_keys)), Outbox.status == "pending")
        .values(status="cancelled", lease_until=None, last_error=reason[:255])
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _changed(result: Any) -> bool:
    return int(getattr(result, "rowcount", 0) or 0) == 1
