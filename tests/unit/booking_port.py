"""An in-memory booking port for the conversation's unit tests (the database-backed port is
exercised in tests/integration/test_booking_*.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.conversation import booking as dialogue
from bot.conversation.booking import BookingView, SlotView
from knowledge.booking import generate_slots

#: Tuesday 1 December 2026, 10:00 JST.
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@dataclass
class ListPort:
    """The booking port over lists (the conversation reads slots and bookings through it)."""

    slots: list[SlotView]
    bookings: list[BookingView] = field(default_factory=list)

    def can_book(self, window_id: str) -> bool:
        return dialogue.service_for_window(window_id) is not None

    def available_slots(self, service_id: str, since: datetime, limit: int) -> list[SlotView]:
        found = [s for s in self.slots if s.service_id == service_id and s.starts_at >= since]
        return found[:limit]

    def slot(self, slot_id: int) -> SlotView | None:
        return next((s for s in self.slots if s.slot_id == slot_id), None)

    def bookings_of(self) -> list[BookingView]:
        return list(self.bookings)


def make_port(now: datetime = NOW, bookings: list[BookingView] | None = None) -> ListPort:
    """Every service's generated slots from `now`, numbered 1…, and these bookings."""
    slots: list[SlotView] = []
    for service_id in ("consultation", "ibasho", "family_gathering"):
        for spec in generate_slots(service_id, now):
            slots.append(
                SlotView(len(slots) + 1, service_id, spec.starts_at, spec.ends_at, spec.capacity)
            )
    return ListPort(slots, list(bookings or []))
