"""Inbox rows: store webhook events (once per webhookEventId) and claim them for the worker.

Claiming rules (DESIGN.md, "How a message flows"):
- an event is claimable when it is `pending`, or `claimed` with an expired lease (its worker
  died: TESTING.md H1/H5);
- per user, events are taken in (event timestamp, id) order and never two at once: an event
  waits while an earlier event of the same user is still pending or claimed;
- crisis events (priority 0) are claimed before ordinary ones (priority 5);
- `attempts` is the lease token: the worker finishes an event only if nobody re-claimed it
  since (`finish` checks it in the same transaction as the outbox insert).
PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED; SQLite: the same conditional UPDATE … RETURNING
inside the write transaction's BEGIN IMMEDIATE, which already serialises writers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, bindparam, text, tuple_, update
from sqlalchemy.orm import Session

from bot.db import insert_or_ignore, is_postgresql
from bot.models.base import utcnow
from bot.models.core import InboxEvent

UNFINISHED = ("pending", "claimed")


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """One event as the webhook stores it."""

    webhook_event_id: str
    line_user_id: str | None
    event_type: str
    mode: str
    is_redelivery: bool
    event_timestamp: datetime
    payload: dict[str, Any]
    reply_token: str | None
    status: str
    priority: int


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """An inbox row a worker holds until `lease_until`; `attempts` is its lease token."""

    id: int
    webhook_event_id: str
    line_user_id: str
    event_type: str
    payload: dict[str, Any]
    reply_token: str | None
    event_timestamp: datetime
    priority: int
    attempts: int


def store_events(session: Session | Connection, events: Sequence[IncomingEvent]) -> int:
    """INSERT … ON CONFLICT (webhook_event_id) DO NOTHING; returns the number of new rows.

    Core, not ORM: this runs once per webhook request and is on LINE's 2 s budget."""
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for event in events:
        if event.webhook_event_id in seen:
            continue
        seen.add(event.webhook_event_id)
        rows.append(
            {
                "webhook_event_id": event.webhook_event_id,
                "line_user_id": event.line_user_id,
                "event_type": event.event_type,
                "mode": event.mode,
                "is_redelivery": event.is_redelivery,
                "event_timestamp": event.event_timestamp,
                "payload": event.payload,
                "reply_token": event.reply_token,
                "status": event.status,
                "priority": event.priority,
                "attempts": 0,
                "received_at": now,
            }
        )
    if not rows:
        return 0
    connection = session.connection() if isinstance(session, Session) else session
    statement = _STORE[is_postgresql(connection)]
    return len(connection.execute(statement, rows).all())


_TABLE: Table = InboxEvent.__table__  # type: ignore[assignment]
_STORE = {
    pg: insert_or_ignore(_TABLE, conflict=["webhook_event_id"], postgres=pg).returning(_TABLE.c.id)
    for pg in (False, True)
}


_CANDIDATES = """
SELECT e.id FROM inbox_event e
WHERE (e.status = 'pending' OR (e.status = 'claimed' AND e.lease_until < :now))
  AND e.line_user_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM inbox_event p
    WHERE p.line_user_id = e.line_user_id
      AND p.status IN ('pending', 'claimed')
      AND (p.event_timestamp < e.event_timestamp
           OR (p.event_timestamp = e.event_timestamp AND p.id < e.id)))
ORDER BY e.priority, e.event_timestamp, e.id
LIMIT :limit
"""

_CLAIMED_COLUMNS = (
    "id",
    "webhook_event_id",
    "line_user_id",
    "event_type",
    "payload",
    "reply_token",
    "event_timestamp",
    "priority",
    "attempts",
)
_RETURNING = "RETURNING " + ", ".join(_CLAIMED_COLUMNS)
# Built from the constants above only: no value ever reaches the SQL text.
_CLAIM_POSTGRESQL = (
    f"WITH c AS ({_CANDIDATES} FOR UPDATE SKIP LOCKED) "  # noqa: S608
    "UPDATE inbox_event SET status = 'claimed', lease_until = :lease_until, "
    "attempts = inbox_event.attempts + 1 FROM c WHERE inbox_event.id = c.id "
    + _RETURNING.replace("RETURNING id", "RETURNING inbox_event.id")
)
_CLAIM_SQLITE = (
    "UPDATE inbox_event SET status = 'claimed', lease_until = :lease_until, "  # noqa: S608
    f"attempts = attempts + 1 WHERE id IN ({_CANDIDATES}) {_RETURNING}"
)


@functools.cache
def _claim_statement(postgres: bool) -> Any:
    """The claim statement, built once per dialect (SQLAlchemy then reuses its compiled
    form without rebuilding the clause and its cache key every round)."""
    lease_type = _TABLE.c.lease_until.type
    clause = text(_CLAIM_POSTGRESQL if postgres else _CLAIM_SQLITE).bindparams(
        bindparam("now", type_=lease_type),
        bindparam("lease_until", type_=lease_type),
    )
    return clause.columns(*(_TABLE.c[name] for name in _CLAIMED_COLUMNS))


def claim(session: Session, *, limit: int, lease_seconds: float) -> list[ClaimedEvent]:
    """Claim up to `limit` events (at most one per user) until now + `lease_seconds`."""
    now = utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    statement = _claim_statement(is_postgresql(session))
    result = session.execute(statement, {"now": now, "lease_until": lease_until, "limit": limit})
    claimed = [
        ClaimedEvent(
            id=row.id,
            webhook_event_id=row.webhook_event_id,
            line_user_id=row.line_user_id,
            event_type=row.event_type,
            payload=row.payload,
            reply_token=row.reply_token,
            event_timestamp=row.event_timestamp,
            priority=row.priority,
            attempts=row.attempts,
        )
        for row in result
    ]
    claimed.sort(key=lambda c: (c.priority, c.event_timestamp, c.id))
    return claimed


def finish(session: Session, event: ClaimedEvent, *, status: str = "done") -> bool:
    """Mark a claimed event finished if this worker still holds it (same lease token).

    Call it first in the transaction that writes the event's results: when it returns False
    another worker re-claimed the event and the caller must roll back.
    """
    result = session.connection().execute(
        _FINISH,
        {"b_id": event.id, "b_attempts": event.attempts, "b_status": status, "b_now": utcnow()},
    )
    return bool(getattr(result, "rowcount", 0) == 1)


#: Built once: `finish` runs for every event that is not a plain answer.
_FINISH = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("b_id"),
        _TABLE.c.status == "claimed",
        _TABLE.c.attempts == bindparam("b_attempts"),
    )
    .values(
        status=bindparam("b_status"),
        processed_at=bindparam("b_now", type_=_TABLE.c.processed_at.type),
        lease_until=None,
    )
)


def finish_many(session: Session, events: Sequence[ClaimedEvent]) -> set[int]:
    """`finish` for a batch in one statement; returns the ids this worker still held."""
    if not events:
        return set()
    result = session.connection().execute(
        update(_TABLE)
        .where(
            _TABLE.c.status == "claimed",
            tuple_(_TABLE.c.id, _TABLE.c.attempts).in_([(e.id, e.attempts) for e in events]),
        )
        .values(status="done", processed_at=utcnow(), lease_until=None)
        .returning(_TABLE.c.id)
    )
    return {row[0] for row in result}


def postpone(session: Session, event: ClaimedEvent, *, delay_seconds: float) -> None:
    """After a processing error: keep the claim but let the lease run out in `delay_seconds`,
    so the event (and the user's later events behind it) are retried, not lost."""
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == event.id, InboxEvent.attempts == event.attempts)
        .values(lease_until=utcnow() + timedelta(seconds=delay_seconds))
        .execution_options(synchronize_session=False)
    )


def give_up(session: Session, event: ClaimedEvent) -> bool:
    """Mark an event that failed too often as `failed`, unblocking the user's later events."""
    return finish(session, event, status="failed")
