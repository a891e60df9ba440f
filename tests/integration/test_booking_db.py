"""Booking in a real database (SQLite file, or PostgreSQL with MARUGOTO_TEST_POSTGRES):
the compare-and-swap under a race (H7), the database refusing overbooking by itself,
double taps (H8), cancel, reschedule, lists and the staff functions."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot.actions import booking, residents, slots
from bot.actions.effects import apply_booking_effect
from bot.conversation.effects import BookSlot, CancelBooking, RescheduleBooking
from bot.db import Database
from bot.models.booking import Booking, Reminder, Slot
from bot.models.core import AuditLog, Outbox, Resident
from bot.queries.booking import available_slots, bookings_of
from knowledge.booking import generate_slots, load_booking_settings
from knowledge.calendar import to_jst

pytestmark = pytest.mark.integration

#: Tuesday 1 December 2026, 10:00 JST.
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def make_resident(db: Database, name: str = "Ubooking") -> int:
    with db.write() as session:
        return residents.get_or_create(session, f"{name}-{threading.get_ident()}", now=NOW).id


def make_residents(db: Database, count: int) -> list[int]:
    with db.write() as session:
        return [residents.get_or_create(session, f"Urace{i:04d}", now=NOW).id for i in range(count)]


@dataclass(frozen=True)
class SlotRef:
    id: int
    starts_at: datetime


def first_slot(db: Database, service_id: str = "consultation", index: int = 0) -> SlotRef:
    with db.read() as session:
        row = session.execute(
            select(Slot.id, Slot.starts_at)
            .where(Slot.service_id == service_id)
            .order_by(Slot.starts_at)
            .offset(index)
            .limit(1)
        ).one()
        return SlotRef(row[0], row[1])


@pytest.fixture
def db(database: Database) -> Database:
    with database.write() as session:
        slots.ensure_slots(session, NOW)
    return database


def apply(db: Database, resident_id: int, effect: Any, now: datetime = NOW) -> list[dict[str, Any]]:
    with db.write() as session:
        resident = session.get_one(Resident, resident_id)
        return apply_booking_effect(session, resident, effect, now)


def all_text(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        parts.append(message.get("text") or message.get("altText") or "")
    return "\n".join(parts)


def quick_labels(message: dict[str, Any]) -> list[str]:
    return [item["action"]["label"] for item in message.get("quickReply", {}).get("items", [])]


# ----------------------------------------------------------------------------- slots


def test_ensure_slots_fills_the_horizon_once(database: Database) -> None:
    settings = load_booking_settings()
    expected = sum(len(generate_slots(s, NOW, settings)) for s in settings.services)
    with database.write() as session:
        assert slots.ensure_slots(session, NOW) == expected > 0
    with database.write() as session:
        assert slots.ensure_slots(session, NOW) == 0
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Slot)) == expected
        first = session.scalar(select(func.min(Slot.starts_at)))
    assert first is not None
    # Minimum notice: nothing today (Tuesday) — the first is the next business day.
    assert to_jst(first).date() == date(2026, 12, 2)


def test_ensure_slots_later_adds_only_the_new_days(db: Database) -> None:
    with db.write() as session:
        added = slots.ensure_slots(session, NOW + timedelta(days=7))
    assert added > 0
    with db.read() as session:
        keys = session.execute(select(Slot.service_id, Slot.starts_at)).all()
    assert len(keys) == len(set(keys))


# ----------------------------------------------------------------------------- H7: the race


@pytest.mark.parametrize("capacity", [1, 3])
def test_twenty_residents_race_for_the_last_seats(db: Database, capacity: int) -> None:
    slot = first_slot(db)
    with db.write() as session:
        assert slots.set_slot_capacity(session, slot.id, capacity, staff_id=None)
    ids = make_residents(db, 20)
    barrier = threading.Barrier(len(ids))
    answers: dict[int, list[dict[str, Any]]] = {}
    errors: list[BaseException] = []

    def race(resident_id: int) -> None:
        try:
            barrier.wait()
            effect = BookSlot(slot.id, "visit", None, f"k-{resident_id}")
            answers[resident_id] = apply(db, resident_id, effect)
        except BaseException as error:  # any exception is a failure of the test
            errors.append(error)

    threads = [threading.Thread(target=race, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(answers) == 20
    with db.read() as session:
        booked = session.scalar(
            select(func.count()).where(Booking.slot_id == slot.id, Booking.status == "active")
        )
        counted = session.get_one(Slot, slot.id).booked_count
    assert booked == capacity == counted
    confirmed = [a for a in answers.values() if "予約番号" in all_text(a)]
    full = [a for a in answers.values() if "埋まってしまいました" in all_text(a)]
    assert len(confirmed) == capacity
    assert len(full) == 20 - capacity
    for answer in full:  # a clean answer: the nearest alternatives as buttons
        labels = quick_labels(answer[0])
        assert len(labels) >= 2, labels
        assert all(label != "" for label in labels)


# ----------------------------------------------------------------------------- the database refuses


def test_raw_update_past_capacity_is_refused(db: Database) -> None:
    slot = first_slot(db)
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(
            text("UPDATE slot SET booked_count = capacity + 1 WHERE id = :id"), {"id": slot.id}
        )
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(text("UPDATE slot SET booked_count = -1 WHERE id = :id"), {"id": slot.id})


def _raw_booking(session: Any, slot_id: int, resident_id: int, reference: str) -> None:
    session.execute(
        text(
            "INSERT INTO booking (reference, slot_id, resident_id, mode, status, created_at) "
            "VALUES (:ref, :slot, :resident, 'visit', 'active', :now)"
        ),
        {
            "ref": reference,
            "slot": slot_id,
            "resident": resident_id,
            "now": NOW.replace(tzinfo=None),
        },
    )


def test_raw_insert_past_the_service_is_refused(db: Database) -> None:
    slot = first_slot(db)
    first, second = make_residents(db, 2)
    assert "予約番号" in all_text(apply(db, first, BookSlot(slot.id, "visit", None, "a")))
    # The slot is full (capacity 1): a booking that skips the compare-and-swap is refused.
    with pytest.raises(IntegrityError), db.write() as session:
        _raw_booking(session, slot.id, second, "RAW-001")
    # Even on a free slot, a booking the slot's count does not account for is refused.
    free = first_slot(db, index=1)
    with pytest.raises(IntegrityError), db.write() as session:
        _raw_booking(session, free.id, second, "RAW-002")
    # A count lowered under its bookings is refused too.
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(text("UPDATE slot SET booked_count = 0 WHERE id = :id"), {"id": slot.id})
    with db.read() as session:
        active = select(func.count()).where(Booking.slot_id == slot.id, Booking.status == "active")
        assert session.scalar(active) == 1
        assert session.get_one(Slot, slot.id).booked_count == 1


def test_second_active_booking_of_one_slot_is_refused_by_the_index(db: Database) -> None:
    session_event = first_slot(db, "family_gathering")  # capacity 10
    resident = make_resident(db)
    apply(db, resident, BookSlot(session_event.id, "visit", None, "first"))
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(
            text("UPDATE slot SET booked_count = booked_count + 1 WHERE id = :id"),
            {"id": session_event.id},
        )
        _raw_booking(session, session_event.id, resident, "RAW-003")


# ----------------------------------------------------------------------------- H8, book, list


def test_double_tapped_confirm_is_one_booking_and_one_confirmation(db: Database) -> None:
    slot = first_slot(db, "family_gathering")
    resident = make_resident(db)
    effect = BookSlot(slot.id, "visit", None, "tap-1")
    first = apply(db, resident, effect)
    second = apply(db, resident, effect)
    assert "予約番号" in all_text(first)
    assert second == []
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 1
        assert session.get_one(Slot, slot.id).booked_count == 1


def test_double_tap_processed_concurrently_is_one_booking(db: Database) -> None:
    slot = first_slot(db)  # capacity 1: the twin must not be told 「埋まってしまいました」
    resident = make_resident(db)
    effect = BookSlot(slot.id, "visit", None, "tap-2")
    barrier = threading.Barrier(2)
    answers: list[list[dict[str, Any]]] = []

    def tap() -> None:
        barrier.wait()
        answers.append(apply(db, resident, effect))

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(len(a) for a in answers) == [0, 1]
    assert not any("埋まってしまいました" in all_text(a) for a in answers)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 1


def test_book_stores_reminders_audit_and_summary_only_with_consent(db: Database) -> None:
    slot = first_slot(db)
    with_consent, without = make_residents(db, 2)
    with db.write() as session:
        session.get_one(Resident, with_consent).consent_given_at = NOW
    summary = {"windows": ["self_reliance"], "urgency": "normal"}
    apply(db, with_consent, BookSlot(slot.id, "visit", None, "c1", summary))
    apply(
        db, without, BookSlot(first_slot(db, index=1).id, "phone", "090-1234-5678", "c2", summary)
    )
    with db.read() as session:
        rows = {
            b.resident_id: (b.triage_summary, b.phone, b.reference, b.id)
            for b in session.scalars(select(Booking)).all()
        }
        kinds = {
            resident_id: sorted(
                session.scalars(select(Reminder.kind).where(Reminder.booking_id == row[3])).all()
            )
            for resident_id, row in rows.items()
        }
        audits = session.scalars(
            select(AuditLog.action).where(AuditLog.action == "booking.create")
        ).all()
    assert rows[with_consent][0] == summary
    assert rows[without][0] is None
    assert rows[without][1] == "090-1234-5678"
    assert kinds[with_consent] == ["day_before", "morning_of"]  # 来所: the morning of too
    assert kinds[without] == ["day_before"]  # 電話: the day before only
    assert len(audits) == 2
    assert rows[with_consent][2] != rows[without][2]
    assert len(rows[with_consent][2]) == 7 and rows[with_consent][2][3] == "-"


def test_list_shows_only_upcoming_active_bookings(db: Database) -> None:
    resident = make_resident(db)
    apply(db, resident, BookSlot(first_slot(db, index=2).id, "visit", None, "l1"))
    apply(db, resident, BookSlot(first_slot(db, index=0).id, "visit", None, "l2"))
    with db.read() as session:
        views = bookings_of(session, resident, now=NOW)
        later = bookings_of(session, resident, now=NOW + timedelta(days=40))
    assert [v.starts_at for v in views] == sorted(v.starts_at for v in views)
    assert len(views) == 2 and later == []


def test_too_many_bookings_are_refused_kindly(db: Database) -> None:
    resident = make_resident(db)
    for index in range(3):
        apply(db, resident, BookSlot(first_slot(db, index=index).id, "visit", None, f"m{index}"))
    answer = apply(db, resident, BookSlot(first_slot(db, index=3).id, "visit", None, "m3"))
    assert "3件まで" in all_text(answer)


def test_past_and_blocked_and_too_soon_slots_cannot_be_booked(db: Database) -> None:
    slot = first_slot(db)
    resident = make_resident(db)
    late = slot.starts_at + timedelta(minutes=1)
    assert "埋まってしまいました" in all_text(
        apply(db, resident, BookSlot(slot.id, "visit", None, "p"), late)
    )
    # Early the same morning is inside the minimum notice (from the next business day on).
    evening = slot.starts_at - timedelta(hours=1)
    assert "埋まってしまいました" in all_text(
        apply(db, resident, BookSlot(slot.id, "visit", None, "q"), evening)
    )
    with db.write() as session:
        slots.set_slot_blocked(session, slot.id, True, staff_id=7)
    assert "埋まってしまいました" in all_text(
        apply(db, resident, BookSlot(slot.id, "visit", None, "r"))
    )


# ----------------------------------------------------------------------------- cancel, reschedule


def test_cancel_frees_the_seat_and_cancels_reminders(db: Database) -> None:
    slot = first_slot(db)
    resident, other = make_residents(db, 2)
    apply(db, resident, BookSlot(slot.id, "visit", None, "x"))
    with db.read() as session:
        booking_id = session.scalars(select(Booking.id)).one()
    # Someone else's (forged) button finds nothing.
    assert "見つかりませんでした" in all_text(apply(db, other, CancelBooking(booking_id)))
    answer = apply(db, resident, CancelBooking(booking_id))
    assert "キャンセルしました" in all_text(answer)
    assert len(quick_labels(answer[0])) >= 2  # new times offered
    assert "もうキャンセル" in all_text(apply(db, resident, CancelBooking(booking_id)))
    with db.read() as session:
        assert session.get_one(Slot, slot.id).booked_count == 0
        statuses = set(session.scalars(select(Reminder.status)).all())
    assert statuses == {"cancelled"}
    # The seat is free again for someone else.
    assert "予約番号" in all_text(apply(db, other, BookSlot(slot.id, "visit", None, "y")))


def test_reschedule_moves_atomically(db: Database) -> None:
    old_slot, new_slot, full_slot = (first_slot(db, index=i) for i in range(3))
    resident, blocker = make_residents(db, 2)
    apply(db, resident, BookSlot(old_slot.id, "phone", "0423860295", "o"))
    apply(db, blocker, BookSlot(full_slot.id, "visit", None, "b"))
    with db.read() as session:
        old_id = session.scalar(select(Booking.id).where(Booking.resident_id == resident))
    assert old_id is not None
    answer = apply(db, resident, RescheduleBooking(old_id, full_slot.id, "mv1"))
    assert "埋まってしまいました" in all_text(answer)
    with db.read() as session:
        assert session.get_one(Booking, old_id).status == "active"
    answer = apply(db, resident, RescheduleBooking(old_id, new_slot.id, "mv2"))
    assert "日時を変えました" in all_text(answer)
    assert apply(db, resident, RescheduleBooking(old_id, new_slot.id, "mv2")) == []  # twin tap
    with db.read() as session:
        old_status = session.get_one(Booking, old_id).status
        new = session.execute(
            select(Booking.slot_id, Booking.mode, Booking.phone).where(
                Booking.resident_id == resident, Booking.status == "active"
            )
        ).one()
        counts = {s: session.get_one(Slot, s).booked_count for s in (old_slot.id, new_slot.id)}
    assert old_status == "cancelled"
    assert tuple(new) == (new_slot.id, "phone", "0423860295")
    assert counts == {old_slot.id: 0, new_slot.id: 1}


# ----------------------------------------------------------------------------- staff


def test_staff_close_day_blocks_cancels_and_tells_the_resident(db: Database) -> None:
    slot = first_slot(db)
    day = to_jst(slot.starts_at).date()
    resident = make_resident(db)
    apply(db, resident, BookSlot(slot.id, "visit", None, "s"))
    with db.write() as session:
        result = slots.close_day(session, day, staff_id=3, now=NOW, cancel_bookings=True)
    assert result.slots_blocked >= 1 and len(result.bookings) == 1
    with db.read() as session:
        notice = session.scalars(select(Outbox).where(Outbox.origin == "staff")).one()
        assert notice.resident_id == resident
        assert "窓口の都合でキャンセル" in notice.messages[0]["text"]
        assert session.get_one(Slot, slot.id).booked_count == 0
    # The horizon filler neither recreates nor reopens the closed day.
    with db.write() as session:
        slots.ensure_slots(session, NOW)
    with db.read() as session:
        offered = available_slots(session, "consultation", NOW, 500, now=NOW)
    assert all(to_jst(s.starts_at).date() != day for s in offered)
    with db.write() as session:
        assert slots.reopen_day(session, day, staff_id=3, now=NOW) >= 1
    with db.read() as session:
        offered = available_slots(session, "consultation", NOW, 500, now=NOW)
    assert any(to_jst(s.starts_at).date() == day for s in offered)


def test_capacity_cannot_go_below_booked_seats(db: Database) -> None:
    slot = first_slot(db, "family_gathering")
    a, b = make_residents(db, 2)
    apply(db, a, BookSlot(slot.id, "visit", None, "f1"))
    apply(db, b, BookSlot(slot.id, "visit", None, "f2"))
    with db.write() as session:
        assert not slots.set_slot_capacity(session, slot.id, 1, staff_id=1)
        assert slots.set_slot_capacity(session, slot.id, 2, staff_id=1)
    with db.write() as session:
        booking_id = session.scalars(select(Booking.id).where(Booking.resident_id == a)).one()
        assert booking.mark_outcome(session, booking_id, "attended", staff_id=1)
        assert not booking.mark_outcome(session, booking_id, "no_show", staff_id=1)


def test_staff_move_a_booking_and_the_resident_is_told(db: Database) -> None:
    old_slot, new_slot = first_slot(db, index=0), first_slot(db, index=5)
    resident = make_resident(db)
    apply(db, resident, BookSlot(old_slot.id, "visit", None, "st"))
    with db.write() as session:
        booking_id = session.scalars(select(Booking.id)).one()
        moved = booking.move(
            session,
            resident=session.get_one(Resident, resident),
            booking_id=booking_id,
            new_slot_id=new_slot.id,
            now=NOW,
            actor=booking.Actor.staff(4),
            notify=True,
        )
    assert moved.status == "booked" and moved.booking is not None
    with db.read() as session:
        notice = session.scalars(select(Outbox).where(Outbox.origin == "staff")).one()
        assert "窓口の都合で変わりました" in notice.messages[0]["text"]
        rows = session.execute(
            select(Booking.status, Booking.id, Booking.cancelled_by)
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Slot.starts_at >= NOW, Slot.starts_at < NOW + timedelta(days=30))
            .order_by(Slot.starts_at, Booking.id)
        ).all()
        moves = session.execute(
            select(AuditLog.actor_type, AuditLog.actor_id).where(AuditLog.action == "booking.move")
        ).all()
    assert [(r.status, r.id) for r in rows] == [
        ("cancelled", booking_id),
        ("active", moved.booking.booking_id),
    ]
    # The staff member, not the resident, moved it (it said "resident" before).
    assert rows[0].cancelled_by == "staff"
    assert [tuple(m) for m in moves] == [("staff", "4")]


def test_a_resident_move_is_recorded_as_the_resident_s(db: Database) -> None:
    old_slot, new_slot = first_slot(db, index=0), first_slot(db, index=1)
    resident = make_resident(db)
    apply(db, resident, BookSlot(old_slot.id, "visit", None, "own"))
    with db.read() as session:
        booking_id = session.scalars(select(Booking.id)).one()
    assert "日時を変えました" in all_text(
        apply(db, resident, RescheduleBooking(booking_id, new_slot.id, "own-move"))
    )
    with db.read() as session:
        assert session.get_one(Booking, booking_id).cancelled_by == "resident"
        actor = session.execute(
            select(AuditLog.actor_type, AuditLog.actor_id).where(AuditLog.action == "booking.move")
        ).one()
        staff_notices = session.scalars(select(Outbox).where(Outbox.origin == "staff")).all()
    assert tuple(actor) == ("resident", str(resident))
    assert staff_notices == []  # the resident chose it: the answer in the chat says so
