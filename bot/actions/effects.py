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
from bot.actions.booking import BookResult
from bot.conversation import booking as dialogue
from bot.conversation.booking import SlotView
from bot.conversation.effects import (
    BookingEffect,
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
from bot.queries.booking import nearest_alternatives

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
            return apply_booking_effect(session, resident, effect, context.now)
        case _:
            assert_never(effect)
    return []


def apply_booking_effect(
    session: Session, resident: Resident, effect: BookingEffect, now: datetime
) -> list[Json]:
    """Carry out a booking effect of the dialogue and return the replies to send:
    the confirmation, or 「埋まってしまいました」 with the nearest alternatives, or nothing
    for a double-tapped button."""
    match effect:
        case BookSlot():
            result = booking.book(
                session,
                resident=resident,
                slot_id=effect.slot_id,
                mode=effect.mode,
                phone=effect.phone,
                now=now,
                request_key=effect.request_key,
                summary=effect.summary,
            )
            return _booking_answer(result)
        case RescheduleBooking():
            result = booking.move(
                session,
                resident=resident,
                booking_id=effect.booking_id,
                new_slot_id=effect.new_slot_id,
                now=now,
                request_key=effect.request_key,
            )
            return _booking_answer(result, move=effect.booking_id, rescheduled=True)
        case CancelBooking():
            outcome = booking.cancel(session, effect.booking_id, now=now, resident=resident)
            if outcome.status == "not_found":
                return dialogue.not_found_messages()
            if outcome.status == "already" or outcome.booking is None:
                return dialogue.already_cancelled_messages()
            alternatives: list[SlotView] = []
            if effect.offer_new:
                view = outcome.booking
                alternatives = nearest_alternatives(
                    session, view.service_id, view.starts_at, now=now
                )
            return dialogue.cancelled_messages(outcome.booking, alternatives)
        case _:
            assert_never(effect)


def _booking_answer(
    result: BookResult, *, move: int | None = None, rescheduled: bool = False
) -> list[Json]:
    if result.status == "booked" and result.booking is not None:
        return dialogue.booked_messages(
            result.booking, rescheduled=rescheduled, reminders=result.reminders
        )
    if result.status == "duplicate":
        if result.booking is not None and result.booking.status != "active":
            # An old button of a booking since cancelled: say where the resident is.
            return dialogue.stale_messages()
        return []  # the same button again: the first tap already answered
    if result.status == "already" and result.booking is not None:
        return dialogue.already_booked_messages(result.booking)
    if result.status == "too_many":
        return dialogue.too_many_messages()
    if result.status == "not_found":
        return dialogue.not_found_messages()
    return dialogue.full_messages(result.service_id or "consultation", result.alternatives, move)
