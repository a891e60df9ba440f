"""What a step asks the service to do besides answering (one transaction, bot.actions).

Effects are plain frozen data, one closed union (`Effect`): the service dispatches on their
type with a `match` that mypy checks for exhaustiveness (bot.actions.effects), so an effect
nobody carries out is a type error, never a silently dropped consent. They never carry the
resident's raw message text: `summary` is the triage result (windows, urgency, reporter,
evidence) that staff may see under consent or under the crisis policy.
"""

from __future__ import annotations

from collections.abc import Mapping
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


# --- booking (bot.conversation.booking asks; bot.actions.booking carries out) ----------------


@dataclass(frozen=True, slots=True)
class BookSlot:
    slot_id: int
    mode: str
    phone: str | None
    #: Unique per confirm button: the same button tapped twice is one booking.
    request_key: str
    #: The triage summary to hand to the 相談員; stored only with consent on record.
    summary: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CancelBooking:
    booking_id: int
    #: Offer new times after cancelling (the reminder's 「行けなくなった」 and the list do).
    offer_new: bool = True


@dataclass(frozen=True, slots=True)
class RescheduleBooking:
    booking_id: int
    new_slot_id: int
    request_key: str


BookingEffect = BookSlot | CancelBooking | RescheduleBooking

Effect = (
    GiveConsent
    | WithdrawConsent
    | CreateHandoff
    | MarkUrgent
    | EraseResidentData
    | EraseMessage
    | CancelPending
    | BookSlot
    | CancelBooking
    | RescheduleBooking
)

__all__ = [
    "BookSlot",
    "BookingEffect",
    "CancelBooking",
    "CancelPending",
    "ConsentRecord",
    "ContactMethod",
    "CreateHandoff",
    "Effect",
    "EraseMessage",
    "EraseResidentData",
    "GiveConsent",
    "MarkUrgent",
    "RescheduleBooking",
    "WithdrawConsent",
]
