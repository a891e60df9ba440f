"""Handoffs the resident's conversation opens: a warm lead with consent, or an urgent case
under the crisis policy. A resident has at most one open case (OPEN_HANDOFF_STATUSES): a
new lead, a crisis or a booking joins it instead of opening a second one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.actions import audit
from bot.conversation.effects import CreateHandoff, MarkUrgent
from bot.models.core import OPEN_HANDOFF_STATUSES, Handoff, Resident

_URGENCY_ORDER = {"crisis": 0, "concern": 1, "normal": 2}

#: Built once (every crisis answer asks it).
_OPEN_HANDOFF_OF = (
    select(Handoff)
    .where(
        Handoff.resident_id == bindparam("b_resident"),
        Handoff.status.in_(OPEN_HANDOFF_STATUSES),
    )
    .order_by(Handoff.id.desc())
    .limit(1)
)


def open_handoff(session: Session, resident_id: int) -> Handoff | None:
    """The resident's open case (the newest, should there ever be two)."""
    return session.scalars(_OPEN_HANDOFF_OF, {"b_resident": resident_id}).first()


def _window_ids(windows: Sequence[str], summary: Mapping[str, Any] | None) -> list[str]:
    if windows:
        return [str(w) for w in windows]
    listed = (summary or {}).get("windows", [])
    return [str(w["id"]) for w in listed if isinstance(w, dict)]


def _max_urgency(a: str, b: str) -> str:
    return a if _URGENCY_ORDER.get(a, 2) <= _URGENCY_ORDER.get(b, 2) else b


def create_handoff(
    session: Session,
    resident: Resident,
    effect: CreateHandoff,
    *,
    now: datetime,
    triage: Mapping[str, Any] | None,
    urgency: str | None,
    urgent: bool,
) -> Handoff:
    """A warm lead with the triage summary, urgency, reporter, windows, consent and contact.
    `triage`, `urgency` and `urgent` are the answered event's, used where the effect has
    none. An open handoff of the same resident is updated instead of duplicated."""
    level = "crisis" if urgent else str(effect.urgency or urgency or "normal")
    consent = effect.consent if effect.consented else None
    summary = dict(effect.summary or triage or {})
    handoff = open_handoff(session, resident.id)
    if handoff is None:
        handoff = Handoff(resident_id=resident.id, created_at=now, status="new", urgency=level)
        session.add(handoff)
    else:
        handoff.urgency = _max_urgency(handoff.urgency, level)
    handoff.reporter = str(effect.reporter or "unknown")
    handoff.windows = _window_ids(effect.windows, effect.summary or triage)
    handoff.summary = summary
    handoff.consented = consent is not None
    handoff.consent_version = consent.version if consent else None
    handoff.consent_given_at = consent.given_at if consent else None
    handoff.consent_text_hash = consent.text_hash if consent else None
    handoff.contact_method = effect.contact_method
    handoff.contact_phone = effect.contact_phone
    handoff.contact_time = effect.contact_time
    handoff.updated_at = now
    session.flush()
    audit.record(
        session,
        actor_type="resident",
        actor_id=resident.id,
        action="handoff.create",
        target_type="handoff",
        target_id=handoff.id,
        detail={"urgency": handoff.urgency, "consented": consent is not None},
    )
    return handoff


def mark_urgent(
    session: Session,
    resident: Resident,
    effect: MarkUrgent,
    *,
    now: datetime,
    triage: Mapping[str, Any] | None,
) -> Handoff:
    """Crisis policy: staff see an urgent case whatever the consent state."""
    summary = dict(effect.summary or triage or {})
    handoff = open_handoff(session, resident.id)
    if handoff is None:
        handoff = Handoff(
            resident_id=resident.id,
            status="new",
            urgency="crisis",
            reporter=str(summary.get("reporter") or "unknown"),
            windows=_window_ids((), summary),
            summary=summary,
            consented=resident.consent_given_at is not None,
            consent_version=resident.consent_version,
            consent_given_at=resident.consent_given_at,
            consent_text_hash=resident.consent_text_hash,
            created_at=now,
            updated_at=now,
        )
        session.add(handoff)
    else:
        handoff.urgency = "crisis"
        if summary:
            handoff.summary = summary
        handoff.updated_at = now
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
    return handoff
