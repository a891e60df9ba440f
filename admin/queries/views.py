"""Small read queries for the staff pages that the other query modules do not cover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.queries.cases import Viewer, rights_clause
from bot.models.booking import Slot
from bot.models.core import Handoff
from knowledge.booking import earliest_start


@dataclass(frozen=True)
class OpenSlot:
    id: int
    starts_at: datetime
    ends_at: datetime
    remaining: int


def open_slots(
    session: Session, service_id: str, now: datetime, limit: int = 150
) -> list[OpenSlot]:
    """The slots of a service a booking can be moved to now: open, a seat free, not too
    soon (the same conditions the booking itself checks), soonest first."""
    rows = session.execute(
        select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.capacity - Slot.booked_count)
        .where(
            Slot.service_id == service_id,
            Slot.blocked.is_(False),
            Slot.booked_count < Slot.capacity,
            Slot.starts_at >= earliest_start(now),
        )
        .order_by(Slot.starts_at, Slot.id)
        .limit(limit)
    ).all()
    return [OpenSlot(int(i), s, e, int(r)) for i, s, e, r in rows]


def crisis_waiting_ids(session: Session, viewer: Viewer, limit: int = 50) -> list[int]:
    """The crisis cases waiting for someone (new, unassigned) that this viewer may open,
    newest first: the page's alert tells a NEW one apart from those already announced."""
    return [
        int(i)
        for i in session.scalars(
            select(Handoff.id)
            .where(
                rights_clause(viewer),
                Handoff.urgency == "crisis",
                Handoff.status == "new",
                Handoff.assigned_to.is_(None),
            )
            .order_by(Handoff.id.desc())
            .limit(limit)
        )
    ]
