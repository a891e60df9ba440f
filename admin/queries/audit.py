"""The audit log, read side (supervisors). Rows are content-free by construction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.models.core import AuditLog
from knowledge.calendar import JST

PAGE_SIZE = 50


@dataclass
class AuditFilters:
    action: str = ""
    actor: str = ""
    target_type: str = ""
    target_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def parse(cls, params: dict[str, str]) -> AuditFilters:
        def ident(name: str) -> str:
            value = params.get(name, "")[:64]
            return value if all(ch.isalnum() or ch in "._-" for ch in value) else ""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(params.get(name, "")[:10])
            except ValueError:
                return None

        try:
            page = max(1, min(int(params.get("page", "1")), 1_000_000))
        except ValueError:
            page = 1
        return cls(
            action=ident("action"),
            actor=ident("actor"),
            target_type=ident("target_type"),
            target_id=ident("target_id"),
            date_from=day("from"),
            date_to=day("to"),
            page=page,
        )

    def query(self, **override: str | int) -> dict[str, str]:
        values = {
            "action": self.action,
            "actor": self.actor,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in override.items()})
        return {k: v for k, v in values.items() if v}


def _where(f: AuditFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.action:
        where.append(AuditLog.action == f.action)
    if f.actor:
        where.append(AuditLog.actor_id == f.actor)
    if f.target_type:
        where.append(AuditLog.target_type == f.target_type)
    if f.target_id:
        where.append(AuditLog.target_id == f.target_id)
    if f.date_from:
        where.append(AuditLog.at >= datetime.combine(f.date_from, time.min, tzinfo=JST))
    if f.date_to:
        end = datetime.combine(f.date_to + timedelta(days=1), time.min, tzinfo=JST)
        where.append(AuditLog.at < end)
    return where


def page(session: Session, f: AuditFilters) -> tuple[list[AuditLog], int, int]:
    where = _where(f)
    total = int(session.scalar(select(func.count()).select_from(AuditLog).where(*where)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    current = min(f.page, pages)
    rows = list(
        session.scalars(
            select(AuditLog)
            .where(*where)
            .order_by(AuditLog.at.desc(), AuditLog.id.desc())
            .offset((current - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    return rows, total, current


def export(session: Session, f: AuditFilters, limit: int = 200_000) -> list[AuditLog]:
    return list(
        session.scalars(
            select(AuditLog).where(*_where(f)).order_by(AuditLog.at, AuditLog.id).limit(limit)
        )
    )


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))
