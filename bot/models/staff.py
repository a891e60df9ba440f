"""Staff accounts, sessions, login throttling and internal case notes (issue 5: staff side).

Session ids and login names are never stored as typed: a session row is keyed by the SHA-256
of the cookie token, and a login attempt by a keyed hash of the name (a mistyped password in
the name field must not end up in the database).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, UTCDateTime, utcnow
from bot.models.core import BigId

#: staff (work cases) < supervisor (+ reassign, export, reports, audit) < admin (+ accounts)
ROLES: tuple[str, ...] = ("staff", "supervisor", "admin")


class StaffUser(Base):
    """A person of the 福祉総合相談窓口 or 地域福祉課 who signs in to the staff UI."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    #: argon2id, PHC string format ($argon2id$v=19$m=…)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffSession(Base):
    """One signed-in browser. `id` is sha256(cookie token); the token itself is never stored."""

    __tablename__ = "staff_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The absolute timeout: the session ends then, however active it is.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttempt(Base):
    """One password check, for throttling per account and per address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_name_at", "username_key", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: HMAC-SHA256 of the lower-cased name typed (whether or not such an account exists).
    username_key: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="")
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseNote(Base):
    """An internal note on a handoff. Residents never see these."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff.id"), index=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffReply(Base):
    """A message a staff member sent from the case view: links the conversation line to the
    outbox row that carries it (for the delivery status), and makes a double-submitted form
    send once (`request_key` is unique, generated when the form is shown)."""

    __tablename__ = "staff_reply"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
