"""A resident has one open case: a new lead, a crisis or a booking joins it (every status
the staff queue calls open, `connected` included) instead of opening a second one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.actions import residents
from bot.actions.effects import EffectContext, apply_effect
from bot.conversation.effects import ConsentRecord, CreateHandoff, Effect, MarkUrgent
from bot.db import Database
from bot.models.core import OPEN_HANDOFF_STATUSES, Handoff, Resident

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def _resident_with_case(database: Database, status: str) -> tuple[int, int]:
    with database.write() as session:
        resident = residents.get_or_create(session, f"U-case-{status}", now=NOW)
        handoff = Handoff(resident_id=resident.id, status=status, urgency="normal", created_at=NOW)
        session.add(handoff)
        session.flush()
        return resident.id, handoff.id


def _handoffs(database: Database, resident_id: int) -> list[tuple[int, str, str]]:
    with database.read() as session:
        rows = session.execute(
            select(Handoff.id, Handoff.status, Handoff.urgency)
            .where(Handoff.resident_id == resident_id)
            .order_by(Handoff.id)
        ).all()
    return [(row.id, row.status, row.urgency) for row in rows]


def _apply(database: Database, resident_id: int, effect: Effect) -> None:
    with database.write() as session:
        resident = session.get_one(Resident, resident_id)
        apply_effect(session, resident, effect, EffectContext(now=NOW))


@pytest.mark.parametrize("status", OPEN_HANDOFF_STATUSES)
def test_a_crisis_joins_the_open_case(database: Database, status: str) -> None:
    resident_id, case_id = _resident_with_case(database, status)
    _apply(database, resident_id, MarkUrgent(signals=("suicidal",), summary={"windows": []}))
    assert _handoffs(database, resident_id) == [(case_id, status, "crisis")]


@pytest.mark.parametrize("status", ["closed", "back_to_bot"])
def test_a_crisis_after_a_closed_case_opens_a_new_one(database: Database, status: str) -> None:
    resident_id, case_id = _resident_with_case(database, status)
    _apply(database, resident_id, MarkUrgent(signals=("suicidal",), summary={}))
    assert _handoffs(database, resident_id) == [
        (case_id, status, "normal"),
        (case_id + 1, "new", "crisis"),
    ]


def test_a_lead_with_consent_joins_a_connected_case(database: Database) -> None:
    resident_id, case_id = _resident_with_case(database, "connected")
    record = ConsentRecord(version="v1", given_at=NOW, text_hash="0" * 64)
    lead = CreateHandoff(
        urgency="concern",
        reporter="self",
        windows=("self_reliance",),
        summary={"windows": [{"id": "self_reliance"}]},
        consented=True,
        consent=record,
        contact_method="line",
        contact_phone=None,
        contact_time="いつでも",
    )
    _apply(database, resident_id, lead)
    assert _handoffs(database, resident_id) == [(case_id, "connected", "concern")]
    with database.read() as session:
        handoff = session.get_one(Handoff, case_id)
        assert handoff.consented and handoff.windows == ["self_reliance"]
