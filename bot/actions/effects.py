"""Carry out what a conversation step asked for besides its answer (bot.conversation.effects).

The dispatch is a `match` over the closed `Effect` union ending in `assert_never`: under
mypy --strict an effect without a case here is a type error, so a consent, a handoff or a
「削除」 can never be dropped with only a log line to show for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from sqlalchemy.orm import Session

from bot.actions import booking, handoffs, residents
from bot.conversation.effects import (
    BookSlot,
    CancelBooking,
    CancelPending,
    CreateHandoff,
    Effect,
    EraseMessage,
    EraseResidentData,
    GiveConsent,
    MarkUrgent,
    RescheduleBooking,
    WithdrawConsent,
)
from bot.models.core import Resident

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EffectContext:
    """What an effect may need besides itself: the time, the inbox event being answered, and
    that event's triage (a handoff made without a summary of its own takes the event's)."""

    now: datetime
    inbox_event_id: int | None = None
    triage: dict[str, Any] | None = None
    urgency: str | None = None
    urgent: bool = False


def apply_effect(
    session: Session, resident: Resident, effect: Effect, context: EffectContext
) -> list[Json]:
    """Write one effect in the caller's transaction. Returns the replies it adds (a booking
    effect answers with its confirmation, or 「埋まってしまいました」 with alternatives)."""
    match effect:
        case CreateHandoff():
            handoffs.create_handoff(
                session,
                resident,
                effect,
                now=context.now,
                triage=context.triage,
                urgency=context.urgency,
                urgent=context.urgent,
            )
        case MarkUrgent():
            handoffs.mark_urgent(session, resident, effect, now=context.now, triage=context.triage)
        case GiveConsent():
            residents.give_consent(session, resident, effect.record)
        case WithdrawConsent():
            residents.withdraw_consent(session, resident, now=context.now)
        case EraseResidentData():
            session.flush()
            residents.erase(
                session, resident, now=context.now, keep_inbox_id=context.inbox_event_id
            )
        case EraseMessage():
            session.flush()
            residents.erase_message(session, resident, effect.message_id)
        case CancelPending():
            residents.cancel_pending(session, resident)
            residents.cancel_reminders(session, resident)
        case BookSlot() | CancelBooking() | RescheduleBooking():
            return booking.apply_booking_effect(session, resident, effect, context.now)
        case _:
            assert_never(effect)
    return []
