"""Staff accounts and sessions, read side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models.staff import StaffSession, StaffUser


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    user_id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    revoked: bool
    last_seen_at: datetime
    expires_at: datetime


def load_session(session: Session, session_id: str) -> SessionRow | None:
    row = session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffSession.id == session_id)
    ).first()
    if row is None:
        return None
    staff_session, user = row
    return SessionRow(
        session_id=staff_session.id,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        disabled=user.disabled,
        revoked=staff_session.revoked,
        last_seen_at=staff_session.last_seen_at,
        expires_at=staff_session.expires_at,
    )


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def active_users(session: Session) -> list[StaffUser]:
    return list(
        session.scalars(
            select(StaffUser).where(StaffUser.disabled.is_(False)).order_by(StaffUser.username)
        )
    )


def user_names(session: Session) -> dict[int, str]:
    rows = session.execute(select(StaffUser.id, StaffUser.username, StaffUser.display_name))
    return {uid: (display or username) for uid, username, display in rows}
