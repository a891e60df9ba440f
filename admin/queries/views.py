"""Small read queries for the staff pages that the other query modules do not cover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from admin.queries.cases import Viewer, rights_clause
from bot.models.booking import Slot
from bot.models.core import AuditLog, Handoff
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


def case_history(
    session: Session, handoff: Handoff, names: dict[int, str], limit: int = 200
) -> list[tuple[AuditLog, str]]:
    """A case's audit rows, newest first, with who did each. Page views are read apart
    from the other actions (up to 2,000 of them, folded into one line per person and day
    by the page), so a case opened hundreds of times still shows its claims and changes."""
    about_case = and_(AuditLog.target_type == "handoff", AuditLog.target_id == str(handoff.id))
    consent = and_(
        AuditLog.target_type == "resident",
        AuditLog.target_id == str(handoff.resident_id),
        AuditLog.action.like("consent.%"),
    )
    newest = (AuditLog.at.desc(), AuditLog.id.desc())
    actions = session.scalars(
        select(AuditLog)
        .where(or_(and_(about_case, AuditLog.action != "case.view"), consent))
        .order_by(*newest)
        .limit(limit)
    )
    views = session.scalars(
        select(AuditLog)
        .where(about_case, AuditLog.action == "case.view")
        .order_by(*newest)
        .limit(2_000)
    )
    rows = sorted([*actions, *views], key=lambda a: (a.at, a.id), reverse=True)
    out: list[tuple[AuditLog, str]] = []
    for row in rows:
        if row.actor_type == "staff" and row.actor_id and row.actor_id.isdigit():
            who = names.get(int(row.actor_id), row.actor_id)
        elif row.actor_type == "resident":
            who = "相談者"
        else:
            who = "システム"
        out.append((row, who))
    return out
