"""Append a content-free row to the audit log (who did what to which record, when)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.models.core import AuditLog

#: Keys allowed in `detail`: ids, counts and outcomes only, so no text ever leaks in.
_ALLOWED_DETAIL_TYPES = (int, float, bool, type(None))


def record(
    session: Session,
    *,
    actor_type: str,
    actor_id: str | int | None,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditLog:
    """Add one audit row to the caller's transaction.

    `detail` values must be numbers, booleans, None or short identifier-like strings
    (≤ 64 chars, no whitespace): free text is refused so resident content cannot slip in.
    """
    clean: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if isinstance(value, str):
            if len(value) > 64 or any(ch.isspace() for ch in value):
                raise ValueError(f"audit detail {key!r} looks like free text")
        elif isinstance(value, list):
            if not all(isinstance(v, str | int) and len(str(v)) <= 64 for v in value):
                raise ValueError(f"audit detail {key!r} must be a list of ids")
        elif not isinstance(value, _ALLOWED_DETAIL_TYPES):
            raise ValueError(f"audit detail {key!r} has an unsupported type")
        clean[key] = value
    row = AuditLog(
        actor_type=actor_type,
        actor_id=None if actor_id is None else str(actor_id),
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        detail=clean,
        ip=ip,
    )
    session.add(row)
    return row
