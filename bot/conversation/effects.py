"""What a step asks the service to do besides answering (one transaction, bot.actions).

Effects are plain frozen data; the service looks them up by class name. They never carry
the resident's raw message text: `summary` is the triage result (windows, urgency, reporter,
evidence) that staff may see under consent or under the crisis policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

ContactMethod = Literal["line", "phone"]


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """Which consent text the resident agreed to, and when (text_hash = sha256 hex of the
    exact text shown)."""

    version: str
    given_at: datetime
    text_hash: str


@dataclass(frozen=True, slots=True)
class GiveConsent:
    record: ConsentRecord


@dataclass(frozen=True, slots=True)
class WithdrawConsent:
    """Stop sharing with staff from now on (idempotent: may arrive with no consent on record)."""


@dataclass(frozen=True, slots=True)
class CreateHandoff:
    """A warm lead for the 福祉総合相談窓口 queue."""

    urgency: str
    reporter: str
    windows: tuple[str, ...]
    summary: dict[str, Any]
    consented: bool
    consent: ConsentRecord | None
    contact_method: ContactMethod
    contact_phone: str | None
    contact_time: str | None


@dataclass(frozen=True, slots=True)
class MarkUrgent:
    """Crisis policy: staff see this case at once, marked urgent, whatever the consent state."""

    signals: tuple[str, ...]
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EraseResidentData:
    """Erase the resident's messages and triage (a content-free audit row stays)."""


@dataclass(frozen=True, slots=True)
class EraseMessage:
    """The resident unsent this message (LINE message id): erase its words where we keep
    them, as LINE asks bots to respect an unsend."""

    message_id: str


@dataclass(frozen=True, slots=True)
class CancelPending:
    """Cancel everything still to be sent to this resident (outbox, reminders)."""


Effect = (
    GiveConsent
    | WithdrawConsent
    | CreateHandoff
    | MarkUrgent
    | EraseResidentData
    | EraseMessage
    | CancelPending
)

__all__ = [
    "CancelPending",
    "ConsentRecord",
    "ContactMethod",
    "CreateHandoff",
    "Effect",
    "EraseMessage",
    "EraseResidentData",
    "GiveConsent",
    "MarkUrgent",
    "WithdrawConsent",
]
