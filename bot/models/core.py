"""Residents, inbox events, conversation log, outbox, handoffs and the audit log.

Status values are plain strings checked by the code that writes them (bot/actions); the
comments list them so a reader of the schema sees the life cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, UTCDateTime, utcnow

#: A handoff's life cycle: new → in_progress → waiting_resident → connected → closed, or
#: back_to_bot (staff hand the chat back). bot.actions.cases holds the allowed moves.
HANDOFF_STATUSES: tuple[str, ...] = (
    "new",
    "in_progress",
    "waiting_resident",
    "connected",
    "closed",
    "back_to_bot",
)
#: Not closed and not handed back: the case is in the staff queue, and a resident's new
#: lead, crisis or booking joins it instead of opening a second case. `connected` is open
#: (staff passed the case to a window but have not closed it).
OPEN_HANDOFF_STATUSES: tuple[str, ...] = ("new", "in_progress", "waiting_resident", "connected")
#: While a case is in one of these, the bot passes the resident's messages to staff.
STAFF_ACTIVE_HANDOFF_STATUSES: frozenset[str] = frozenset({"in_progress", "waiting_resident"})

# JSON columns: JSON on SQLite, JSONB on PostgreSQL.
JsonType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER


class Resident(Base):
    """A LINE user who has written to or followed the channel."""

    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    following: Mapped[bool] = mapped_column(Boolean, default=True)
    followed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unfollowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The conversation state machine's state (bot.conversation.State.to_json()).
    state: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    #: Consent to share the conversation with the 福祉総合相談窓口 (None = not given/withdrawn).
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_text_hash: Mapped[str | None] = mapped_column(String(64))
    #: A resident's messages pass to staff instead of the triage while a case is in progress.
    staff_active: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboxEvent(Base):
    """One webhook event, stored before the webhook answers 200 (at-least-once in)."""

    __tablename__ = "inbox_event"
    __table_args__ = (
        Index("ix_inbox_event_claim", "status", "priority", "line_user_id", "event_timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    line_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16), default="active")
    is_redelivery: Mapped[bool] = mapped_column(Boolean, default=False)
    event_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The event as LINE sent it; text blanked when the resident erases their data.
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    reply_token: Mapped[str | None] = mapped_column(String(255))
    #: pending → claimed → done | ignored | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: 0 = crisis (claimed first), 5 = ordinary.
    priority: Mapped[int] = mapped_column(Integer, default=5)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Message(Base):
    """The conversation log staff may read (with consent): resident, bot and staff lines."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    #: in (resident) | bot | staff
    direction: Mapped[str] = mapped_column(String(8))
    text: Mapped[str | None] = mapped_column(Text)
    #: The triage result for resident lines (Analysis.to_json()), for staff to see why.
    triage: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    urgency: Mapped[str | None] = mapped_column(String(16))
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_event.id"))
    staff_user_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Outbox(Base):
    """One message batch to send to LINE (exactly-once out).

    `dedupe_key` makes creating the same answer twice impossible (e.g. "answer:<webhookEventId>");
    `retry_key` is the X-Line-Retry-Key sent with every push attempt of this row.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "priority", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    line_user_id: Mapped[str] = mapped_column(String(64))
    #: LINE message objects as JSON (at most 5 per request).
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    reply_token: Mapped[str | None] = mapped_column(String(255))
    reply_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_key: Mapped[str] = mapped_column(String(36))
    #: bot | staff | reminder | system
    origin: Mapped[str] = mapped_column(String(16), default="bot")
    #: pending → sending → sent | dead | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: "reply" or "push" once sent, for operators and tests.
    sent_via: Mapped[str | None] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(Integer, default=5)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Status code and a short reason; never message content.
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Handoff(Base):
    """A warm lead for the 福祉総合相談窓口: the case staff work in the queue."""

    __tablename__ = "handoff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    #: One of HANDOFF_STATUSES.
    status: Mapped[str] = mapped_column(String(24), default="new", index=True)
    #: crisis | concern | normal
    urgency: Mapped[str] = mapped_column(String(16), default="normal", index=True)
    reporter: Mapped[str] = mapped_column(String(16), default="unknown")
    windows: Mapped[list[str]] = mapped_column(JsonType, default=list)
    #: The triage summary (windows, scores, evidence); content-bearing, shown with consent.
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    #: True when the resident agreed to share; crisis cases exist without it (crisis policy).
    consented: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_text_hash: Mapped[str | None] = mapped_column(String(64))
    #: line | phone
    contact_method: Mapped[str | None] = mapped_column(String(8))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_time: Mapped[str | None] = mapped_column(String(64))
    #: The つなぎ先 staff recorded (window ids) — feeds the city's indicators.
    connected_windows: Mapped[list[str]] = mapped_column(JsonType, default=list)
    assigned_to: Mapped[int | None] = mapped_column(BigId, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Who did what to which record, when. Content-free by rule; append-only by trigger."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: resident | staff | system
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    #: Small, content-free details (ids, counts, outcomes) — never message text.
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
