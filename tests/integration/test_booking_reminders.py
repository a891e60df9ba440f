"""Reminders and the scheduler on a real database: sent once each even with two schedulers
running (threads calling run_tick at the same moment), never after a cancel or an unfollow,
at the right Tokyo time around midnight on a UTC clock (H9), and a dead scheduler's lease
taken over."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actions import reminders, residents
from bot.actions.effects import apply_booking_effect
from bot.conversation.effects import BookSlot, CancelBooking
from bot.db import Database
from bot.models.booking import Booking, Reminder, Slot
from bot.models.core import Outbox, Resident
from bot.scheduler import run_tick, start_scheduler
from knowledge.calendar import JST

pytestmark = pytest.mark.integration

#: Tuesday 1 December 2026, 10:00 JST (01:00 UTC).
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
#: Wednesday 2 December, 8:30 JST = Tuesday 1 December, 23:30 UTC.
EARLY = datetime(2026, 12, 2, 8, 30, tzinfo=JST)
DAY_BEFORE_DUE = datetime(2026, 12, 1, 18, 0, tzinfo=JST)  # 09:00 UTC
MORNING_DUE = datetime(2026, 12, 2, 8, 0, tzinfo=JST)  # 23:00 UTC the day before


@pytest.fixture
def db(database: Database) -> Database:
    run_tick(database, NOW)
    return database


def slot_at(db: Database, starts: datetime, service_id: str = "consultation") -> int:
    with db.read() as session:
        slot_id = session.scalar(
            select(Slot.id).where(Slot.service_id == service_id, Slot.starts_at == starts)
        )
    assert slot_id is not None
    return int(slot_id)


def book(db: Database, user: str, slot_id: int, mode: str = "visit") -> int:
    with db.write() as session:
        resident = residents.get_or_create(session, user, now=NOW)
        phone = "090-1111-2222" if mode == "phone" else None
        answer = apply_booking_effect(
            session, resident, BookSlot(slot_id, mode, phone, f"{user}-{slot_id}"), NOW
        )
        assert "予約番号" in answer[0]["text"]
        booking_id = session.scalar(
            select(Booking.id).where(Booking.resident_id == resident.id, Booking.slot_id == slot_id)
        )
    assert booking_id is not None
    return int(booking_id)


def reminder_rows(db: Database) -> list[tuple[str, int]]:
    with db.read() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.origin == "reminder").order_by(Outbox.id)
        ).all()
        return [(row.dedupe_key, len(row.messages)) for row in rows]


def card_text(db: Database, dedupe_key: str) -> str:
    with db.read() as session:
        row = session.scalars(select(Outbox).where(Outbox.dedupe_key == dedupe_key)).one()
        message: dict[str, Any] = row.messages[0]
    return str(message["contents"]["body"]["contents"][0]["text"])


def test_reminders_near_midnight_jst_go_out_at_the_right_utc_moment(db: Database) -> None:
    booking_id = book(db, "Umidnight", slot_at(db, EARLY))
    with db.read() as session:
        due = dict(
            session.execute(
                select(Reminder.kind, Reminder.due_at).where(Reminder.booking_id == booking_id)
            ).all()
        )
    assert due == {
        "day_before": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "morning_of": datetime(2026, 12, 1, 23, 0, tzinfo=UTC),
    }
    assert run_tick(db, DAY_BEFORE_DUE - timedelta(seconds=1), fill=False).reminders_sent == 0
    assert run_tick(db, DAY_BEFORE_DUE, fill=False).reminders_sent == 1
    text = card_text(db, f"reminder:{booking_id}:day_before")
    assert "明日" in text and "12月2日（水）8:30" in text
    # 22:59 UTC is still 7:59 in Tokyo: the morning reminder waits.
    assert run_tick(db, MORNING_DUE - timedelta(minutes=1), fill=False).reminders_sent == 0
    assert run_tick(db, MORNING_DUE, fill=False).reminders_sent == 1
    assert "今日" in card_text(db, f"reminder:{booking_id}:morning_of")
    assert run_tick(db, MORNING_DUE + timedelta(minutes=5), fill=False).reminders_sent == 0
    assert len(reminder_rows(db)) == 2


def test_two_schedulers_send_each_reminder_once(db: Database) -> None:
    slot_ids = [slot_at(db, EARLY + timedelta(hours=h)) for h in range(6)]
    bookings = [
        book(db, f"Utwo{i}", s, "phone" if i % 2 else "visit") for i, s in enumerate(slot_ids)
    ]
    with db.read() as session:
        expected = session.scalar(select(func.count()).select_from(Reminder))
    assert expected == 9  # three 来所 (two each) and three 電話 (the day before only)
    totals: list[int] = []
    barrier = threading.Barrier(2)

    def scheduler(moment: datetime) -> None:
        barrier.wait()
        totals.append(run_tick(db, moment, fill=True).reminders_sent)

    for moment in (DAY_BEFORE_DUE, MORNING_DUE):
        threads = [threading.Thread(target=scheduler, args=(moment,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sum(totals) == expected
    keys = [key for key, _ in reminder_rows(db)]
    assert len(keys) == len(set(keys)) == expected
    assert {int(k.split(":")[1]) for k in keys} == set(bookings)
    with db.read() as session:
        assert set(session.scalars(select(Reminder.status)).all()) == {"sent"}


def test_no_reminder_after_cancel(db: Database) -> None:
    early = book(db, "Ucancel1", slot_at(db, EARLY))
    late = book(db, "Ucancel2", slot_at(db, EARLY + timedelta(hours=1)))
    with db.write() as session:
        resident = session.scalars(
            select(Resident).where(Resident.line_user_id == "Ucancel1")
        ).one()
        apply_booking_effect(session, resident, CancelBooking(early), NOW)
    run_tick(db, DAY_BEFORE_DUE, fill=False)
    assert [k for k, _ in reminder_rows(db)] == [f"reminder:{late}:day_before"]
    # Cancelled after the push was queued but before it went out: the push is withdrawn.
    with db.write() as session:
        resident = session.scalars(
            select(Resident).where(Resident.line_user_id == "Ucancel2")
        ).one()
        apply_booking_effect(session, resident, CancelBooking(late), NOW)
    run_tick(db, MORNING_DUE, fill=False)
    with db.read() as session:
        statuses = dict(
            session.execute(
                select(Outbox.dedupe_key, Outbox.status).where(Outbox.origin == "reminder")
            ).all()
        )
    assert statuses == {f"reminder:{late}:day_before": "cancelled"}


def test_no_reminder_to_a_resident_who_unfollowed(db: Database) -> None:
    gone = book(db, "Ugone", slot_at(db, EARLY))
    blocked = book(db, "Ublocked", slot_at(db, EARLY + timedelta(hours=1)))
    with db.write() as session:
        resident = session.scalars(select(Resident).where(Resident.line_user_id == "Ugone")).one()
        residents.unfollow(session, resident, now=NOW)
        # Not following any more, even without the unfollow clean-up having run.
        other = session.scalars(select(Resident).where(Resident.line_user_id == "Ublocked")).one()
        other.following = False
    result = run_tick(db, MORNING_DUE, fill=False)
    assert result.reminders_sent == 0
    assert result.reminders_skipped == 2  # Ublocked's two; Ugone's were cancelled at once
    assert reminder_rows(db) == []
    with db.read() as session:
        statuses = set(
            session.scalars(
                select(Reminder.status).where(Reminder.booking_id.in_([gone, blocked]))
            ).all()
        )
    assert statuses == {"cancelled"}


def test_a_dead_schedulers_lease_is_taken_over_once(db: Database) -> None:
    book(db, "Ulease", slot_at(db, EARLY), "phone")
    with db.write() as session:
        claimed = reminders.claim_due_reminders(
            session, now=DAY_BEFORE_DUE, token="dead", lease=timedelta(seconds=60)
        )
    assert len(claimed) == 1
    # Within the lease nobody else takes it; after it, the next tick sends it, once.
    assert run_tick(db, DAY_BEFORE_DUE + timedelta(seconds=30), fill=False).reminders_sent == 0
    assert run_tick(db, DAY_BEFORE_DUE + timedelta(seconds=61), fill=False).reminders_sent == 1
    with db.write() as session:  # the dead scheduler wakes up: its lease is gone
        assert (
            reminders.dispatch_reminder(session, claimed[0], token="dead", now=DAY_BEFORE_DUE)
            == "lost"
        )
    assert len(reminder_rows(db)) == 1


def test_a_reminder_past_the_start_is_dropped(db: Database) -> None:
    book(db, "Ulate", slot_at(db, EARLY), "phone")
    result = run_tick(db, EARLY + timedelta(minutes=1), fill=False)
    assert (result.reminders_sent, result.reminders_skipped) == (0, 1)


def test_start_scheduler_fills_the_horizon_in_the_background(database: Database) -> None:
    handle = start_scheduler(database)
    try:
        deadline = time.monotonic() + 10
        count = 0
        while time.monotonic() < deadline and count == 0:
            time.sleep(0.1)
            with database.read() as session:
                count = session.scalar(select(func.count()).select_from(Slot)) or 0
        assert count > 0
    finally:
        handle.stop()
    assert not handle.scheduler.running


def test_the_confirmation_promises_only_the_reminders_that_will_come(db: Database) -> None:
    evening = datetime(2026, 12, 1, 20, 0, tzinfo=JST)  # after 18:00 the day before
    answers = {}
    for mode, hours in (("visit", 0), ("phone", 1)):
        slot_id = slot_at(db, EARLY + timedelta(hours=hours))
        with db.write() as session:
            resident = residents.get_or_create(session, f"Ulate{mode}", now=evening)
            phone = "090-1111-2222" if mode == "phone" else None
            effect = BookSlot(slot_id, mode, phone, f"late-{mode}")
            answers[mode] = apply_booking_effect(session, resident, effect, evening)
    assert "当日の朝に、お知らせを送ります" in answers["visit"][0]["text"]
    assert "前の日" not in answers["visit"][0]["text"]
    assert "お知らせを送ります" not in answers["phone"][0]["text"]


def test_scheduler_loop_runs_until_stopped(database: Database) -> None:
    """The app's loop contract (`await Scheduler(database, settings).run(stop)`)."""
    import asyncio

    from bot.scheduler import Scheduler

    async def main() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(Scheduler(database).run(stop))
        slots = 0
        for _ in range(100):
            await asyncio.sleep(0.1)
            with database.read() as session:
                slots = session.scalar(select(func.count()).select_from(Slot)) or 0
            if slots:
                break
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        return slots

    assert asyncio.run(main()) > 0
