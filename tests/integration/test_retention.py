"""F3 retention and F1 erasure of the bot's own lines (they quote the resident)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.actions import residents
from bot.db import Database
from bot.models.core import AuditLog, Handoff, InboxEvent, Message, Outbox, Resident
from bot.scheduler import purge_old_content

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
SENTINEL = "SENTINEL-家賃が払えない-7f3a"


def _event(resident: Resident, at: datetime) -> InboxEvent:
    return InboxEvent(
        webhook_event_id=uuid.uuid4().hex,
        line_user_id=resident.line_user_id,
        event_type="message",
        event_timestamp=at,
        received_at=at,
        status="done",
        payload={"type": "message", "message": {"type": "text", "id": "1", "text": SENTINEL}},
    )


def _seed(database: Database, at: datetime) -> int:
    with database.write() as session:
        resident = Resident(line_user_id="U" + uuid.uuid4().hex, state={})
        session.add(resident)
        session.flush()
        session.add(_event(resident, at))
        session.add_all(
            [
                Message(
                    resident_id=resident.id,
                    direction="in",
                    text=SENTINEL,
                    created_at=at,
                    triage={"windows": [{"id": "housing_benefit", "score": 0.9}]},
                ),
                Message(
                    resident_id=resident.id,
                    direction="bot",
                    text=f"「{SENTINEL}」という お話から",
                    created_at=at,
                ),
                Outbox(
                    dedupe_key=uuid.uuid4().hex,
                    resident_id=resident.id,
                    line_user_id=resident.line_user_id,
                    retry_key=str(uuid.uuid4()),
                    messages=[{"type": "text", "text": SENTINEL}],
                    status="sent",
                    created_at=at,
                ),
                Handoff(
                    resident_id=resident.id,
                    status="closed",
                    closed_at=at,
                    created_at=at,
                    summary={"evidence": [SENTINEL]},
                    contact_phone="090-1234-5678",
                    windows=["housing_benefit"],
                ),
            ]
        )
        return resident.id


def _contents(database: Database, resident_id: int) -> list[object]:
    with database.read() as session:
        resident = session.get(Resident, resident_id)
        assert resident is not None
        found: list[object] = []
        found += session.scalars(
            select(Message.text).where(Message.resident_id == resident_id)
        ).all()
        found += [
            e.payload
            for e in session.scalars(
                select(InboxEvent).where(InboxEvent.line_user_id == resident.line_user_id)
            )
        ]
        found += session.scalars(
            select(Outbox.messages).where(Outbox.resident_id == resident_id)
        ).all()
        found += session.scalars(
            select(Handoff.summary).where(Handoff.resident_id == resident_id)
        ).all()
        return found


def test_content_older_than_the_retention_period_is_purged(database: Database) -> None:
    old = _seed(database, NOW - timedelta(days=400))
    recent = _seed(database, NOW - timedelta(days=10))

    assert purge_old_content(database, NOW, days=365) > 0

    assert SENTINEL not in repr(_contents(database, old))
    assert repr(_contents(database, recent)).count(SENTINEL) == 5
    with database.read() as session:
        details = session.scalars(
            select(AuditLog.detail).where(AuditLog.action == "retention.purge")
        ).all()
        kept = session.scalars(select(Handoff.windows).where(Handoff.resident_id == old)).one()
    assert len(details) == 1 and SENTINEL not in repr(details[0])
    assert kept == ["housing_benefit"]  # the content-free facts reports count stay
    assert purge_old_content(database, NOW, days=365) == 0  # nothing left to purge


def test_erasure_also_blanks_the_bot_lines_that_quote_the_resident(database: Database) -> None:
    resident_id = _seed(database, NOW - timedelta(days=1))
    with database.write() as session:
        resident = session.get(Resident, resident_id)
        assert resident is not None
        residents.erase(session, resident, now=NOW, keep_inbox_id=0)
    assert SENTINEL not in repr(_contents(database, resident_id))
