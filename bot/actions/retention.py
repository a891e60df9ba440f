"""Retention (TESTING.md F3): resident content older than the configured period is purged.

What goes: message text and triage of every line (the bot's lines quote the resident), the
texts inside stored webhook payloads, the message bodies of finished outbox rows, and the
triage summary and contact details of handoffs closed before the cutoff. What stays: ids,
times, statuses, windows and urgency — the content-free facts the city's reports count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.actions import audit
from bot.actions.residents import blank_payload
from bot.models.core import Handoff, InboxEvent, Message, Outbox

#: Inbox rows read per page.
BATCH = 500


def purge_older_than(session: Session, cutoff: datetime, *, now: datetime) -> dict[str, int]:
    """Blank content created before `cutoff`; returns counts (also written to the audit log)."""
    messages = session.execute(
        update(Message)
        .where(Message.created_at < cutoff, Message.text.is_not(None))
        .values(text=None, triage=None)
        .execution_options(synchronize_session=False)
    )
    inbox_blanked = 0
    last_id = 0
    while True:  # keyset pages, so a long history never loads at once
        rows = session.scalars(
            select(InboxEvent)
            .where(
                InboxEvent.id > last_id,
                InboxEvent.received_at < cutoff,
                InboxEvent.status.not_in(("pending", "claimed")),
            )
            .order_by(InboxEvent.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            cleaned = blank_payload(row.payload)
            if cleaned != row.payload:
                row.payload = cleaned
                inbox_blanked += 1
        last_id = rows[-1].id
    outbox = session.execute(
        update(Outbox)
        .where(Outbox.created_at < cutoff, Outbox.status.in_(("sent", "dead", "cancelled")))
        .where(Outbox.messages != [])
        .values(messages=[])
        .execution_options(synchronize_session=False)
    )
    handoffs = session.execute(
        update(Handoff)
        .where(Handoff.closed_at.is_not(None), Handoff.closed_at < cutoff)
        .where(Handoff.summary != {})
        .values(summary={}, contact_phone=None, contact_time=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    counts = {
        "messages": int(getattr(messages, "rowcount", 0) or 0),
        "inbox": inbox_blanked,
        "outbox": int(getattr(outbox, "rowcount", 0) or 0),
        "handoffs": int(getattr(handoffs, "rowcount", 0) or 0),
    }
    if any(counts.values()):
        audit.record(
            session,
            actor_type="system",
            actor_id=None,
            action="retention.purge",
            detail=dict(counts),
        )
    return counts
