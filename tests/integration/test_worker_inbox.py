"""The inbox worker: per-user order, crisis first, several workers, leases, crashes (H1)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.actions.inbox import claim
from bot.db import Database
from bot.models.base import utcnow
from bot.models.core import InboxEvent, Message, Outbox
from bot.worker.inbox import CRASH_POINTS, InboxWorker
from tests.integration.conftest import (
    Service,
    SignedWebhook,
    count,
    inbox_rows,
    new_user_id,
    outbox_rows,
    wait_inbox_settled,
    wait_outbox_settled,
    wait_until,
)

pytestmark = pytest.mark.integration


class RecordingConversation:
    """The conversation under test, with every step recorded (and optionally slowed)."""

    def __init__(self, base: Any, delay: float = 0.0) -> None:
        self.base = base
        self.State = base.State
        self.Context = base.Context
        self.events = base.events
        if hasattr(base, "BookingPort"):
            self.BookingPort = base.BookingPort
        self.fallback = base.fallback
        self.delay = delay
        self.lock = threading.Lock()
        self.active: dict[str, int] = defaultdict(int)
        self.max_active_per_user = 0
        self.seen: list[str] = []
        self.current_user = threading.local()

    def step(self, state: Any, event: Any, ctx: Any) -> Any:
        user = getattr(self.current_user, "id", "?")
        text = getattr(event, "text", type(event).__name__)
        with self.lock:
            self.active[user] += 1
            self.max_active_per_user = max(self.max_active_per_user, self.active[user])
            self.seen.append(text)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self.base.step(state, event, ctx)
        finally:
            with self.lock:
                self.active[user] -= 1


class UserTrackingWorker(InboxWorker):
    """Tells the recording conversation whose event it is stepping."""

    def _step(self, event: Any, view: Any, now: Any) -> Any:
        self.conversation.current_user.id = event.line_user_id
        return super()._step(event, view, now)


class SimulatedCrash(BaseException):
    """Stands for kill -9: nothing after it runs, open transactions are rolled back."""


def web_only(start_service: Callable[..., Service]) -> Service:
    return start_service(role="web")


def inbound_texts_in_order(database: Database, user_id: str) -> list[str | None]:
    with database.read() as session:
        rows = session.execute(
            select(Message.text)
            .join(InboxEvent, InboxEvent.id == Message.inbox_event_id)
            .where(InboxEvent.line_user_id == user_id, Message.direction == "in")
            .order_by(Message.id)
        ).all()
    return [row.text for row in rows]


def test_per_user_events_are_processed_in_timestamp_order_never_two_at_once(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
) -> None:
    web = web_only(start_service)
    users = [new_user_id() for _ in range(5)]
    base = int(time.time() * 1000)
    expected: dict[str, list[str]] = {}
    for u, user in enumerate(users):
        texts = [f"家賃が払えない {u}-{i}" for i in range(6)]
        expected[user] = texts
        events = [
            signed_webhook.text(text, user_id=user, timestamp_ms=base + i * 10)
            for i, text in enumerate(texts)
        ]
        # Delivered out of order, in two bodies: order comes from the event timestamps.
        assert web.send(*reversed(events[3:])).status_code == 200
        assert web.send(*events[:3][::-1]).status_code == 200

    recorder = RecordingConversation(conversation, delay=0.01)
    workers = [
        UserTrackingWorker(database, conversation=recorder, batch_size=4, lease_seconds=30)
        for _ in range(4)
    ]
    stop = threading.Event()

    def loop(worker: InboxWorker) -> None:
        while not stop.is_set():
            if worker.run_once() == 0:
                time.sleep(0.01)

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        assert wait_inbox_settled(database, timeout=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert recorder.max_active_per_user == 1
    for user in users:
        assert inbound_texts_in_order(database, user) == expected[user]
    assert count(database, Outbox) == 30
    assert count(database, InboxEvent, InboxEvent.status == "done") == 30


def test_crisis_events_are_claimed_first(
    start_service: Callable[..., Service], signed_webhook: SignedWebhook, database: Database
) -> None:
    web = web_only(start_service)
    base = int(time.time() * 1000)
    ordinary = [signed_webhook.text("仕事を探しています", timestamp_ms=base + i) for i in range(10)]
    crisis = signed_webhook.text("もう死にたい", timestamp_ms=base + 100)
    assert web.send(*ordinary).status_code == 200
    assert web.send(crisis).status_code == 200
    with database.write() as session:
        [first] = claim(session, limit=1, lease_seconds=30)
    assert first.webhook_event_id == crisis["webhookEventId"]
    assert first.priority == 0


def test_a_later_event_waits_while_an_earlier_one_is_claimed(
    start_service: Callable[..., Service], signed_webhook: SignedWebhook, database: Database
) -> None:
    web = web_only(start_service)
    user = new_user_id()
    base = int(time.time() * 1000)
    first = signed_webhook.text("一つめ", user_id=user, timestamp_ms=base)
    second = signed_webhook.text("二つめ", user_id=user, timestamp_ms=base + 5)
    assert web.send(first, second).status_code == 200
    with database.write() as session:
        claimed = claim(session, limit=10, lease_seconds=30)
    assert [c.webhook_event_id for c in claimed] == [first["webhookEventId"]]
    with database.write() as session:
        assert claim(session, limit=10, lease_seconds=30) == []


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_h1_worker_killed_at_each_step_answers_every_event_exactly_once(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
    point: str,
) -> None:
    web = web_only(start_service)
    users = [new_user_id() for _ in range(4)]
    events = [signed_webhook.text("家賃が払えない", user_id=u) for u in users]
    events.append(signed_webhook.text("二つめ", user_id=users[0]))
    assert web.send(*events).status_code == 200

    def crash(at: str) -> None:
        if at == point:
            raise SimulatedCrash(at)

    doomed = InboxWorker(database, conversation=conversation, lease_seconds=0.5, crash=crash)
    with pytest.raises(SimulatedCrash):
        doomed.run_once()
    # Nothing of the interrupted round is visible: no answer, events still claimed.
    assert count(database, Outbox) == 0
    assert count(database, InboxEvent, InboxEvent.status == "claimed") == 4

    # A fresh process (worker role) takes over once the leases run out.
    survivor = start_service(role="worker")
    assert wait_inbox_settled(database, timeout=40)
    fake = survivor.fake
    assert wait_until(lambda: len(fake.deliveries) >= len(events), 30)
    assert wait_outbox_settled(database)  # nothing left that could go out again
    per_user: dict[str | None, int] = defaultdict(int)
    for delivery in fake.deliveries:
        per_user[delivery.user_id] += 1
    assert per_user == {users[0]: 2, users[1]: 1, users[2]: 1, users[3]: 1}
    assert [r.status for r in outbox_rows(database)] == ["sent"] * len(events)
    assert count(database, Message, Message.direction == "in") == len(events)
    assert fake.violations == []


def test_lease_lost_worker_writes_nothing(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
) -> None:
    web = web_only(start_service)
    event = signed_webhook.text("家賃が払えない")
    assert web.send(event).status_code == 200
    other = InboxWorker(database, conversation=conversation, lease_seconds=30)

    def take_over(at: str) -> None:
        # While the slow worker thinks, its lease runs out and another worker finishes.
        if at == "stepped":
            [claimed] = inbox_rows(database)
            assert claimed.lease_until is not None
            assert wait_until(lambda: utcnow() > claimed.lease_until, 10)
            assert other.run_once() == 1

    slow = InboxWorker(database, conversation=conversation, lease_seconds=0.2, crash=take_over)
    assert slow.run_once() == 1
    assert count(database, Outbox) == 1
    assert count(database, Message, Message.direction == "in") == 1
    [row] = inbox_rows(database)
    assert (row.status, row.attempts) == ("done", 2)


def test_a_failing_step_is_retried_then_given_up_without_blocking_the_user(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
) -> None:
    web = web_only(start_service)
    user = new_user_id()
    base = int(time.time() * 1000)
    poison = signed_webhook.text("毒", user_id=user, timestamp_ms=base)
    after = signed_webhook.text("家賃が払えない", user_id=user, timestamp_ms=base + 1)
    assert web.send(poison, after).status_code == 200

    class Exploding(RecordingConversation):
        def step(self, state: Any, event: Any, ctx: Any) -> Any:
            if getattr(event, "text", "") == "毒":
                raise RuntimeError("boom 毒")  # the message must not reach the logs
            return self.base.step(state, event, ctx)

    worker = InboxWorker(database, conversation=Exploding(conversation), max_attempts=2)
    assert worker.run_once() == 1  # attempt 1 fails: retried after a backoff
    first, _ = inbox_rows(database)
    assert (first.status, first.attempts) == ("claimed", 1)
    with database.write() as session:  # let the backoff run out now
        session.execute(update(InboxEvent).values(lease_until=first.received_at))
    assert worker.run_once() == 1  # attempt 2 fails: given up, answered with the fallback
    assert worker.run_once() == 1  # the user's next event is not blocked
    assert [r.status for r in inbox_rows(database)] == ["failed", "done"]
    with database.read() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.next_attempt_at)).all()
        answers = [(row.dedupe_key, row.messages[0]["text"]) for row in rows]
    assert len(answers) == 2
    assert answers[0][0] == f"answer:{poison['webhookEventId']}"
    assert "うまく 読み取れませんでした" in answers[0][1]  # error.fallback: desk + 24-hour line
    assert "うまく" not in answers[1][1]  # the next message got its real answer


def test_a_given_up_crisis_event_is_still_answered_first(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
) -> None:
    web = web_only(start_service)
    user, other = new_user_id(), new_user_id()
    assert web.send(signed_webhook.text("家賃が払えない", user_id=other)).status_code == 200
    assert web.send(signed_webhook.text("もう死にたい", user_id=user)).status_code == 200

    class Exploding(RecordingConversation):
        def step(self, state: Any, event: Any, ctx: Any) -> Any:
            raise RuntimeError("boom")

    worker = InboxWorker(database, conversation=Exploding(conversation), max_attempts=1)
    assert worker.run_once() == 2
    assert [r.status for r in inbox_rows(database)] == ["failed", "failed"]
    with database.read() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.priority, Outbox.id)).all()
        assert [(row.line_user_id, row.priority) for row in rows] == [(user, 0), (other, 5)]


def test_a_slow_round_shows_the_loading_animation_but_never_for_a_crisis(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
) -> None:
    slow = RecordingConversation(conversation, delay=0.8)
    worker = InboxWorker(database, conversation=slow, poll_seconds=0.05)
    worker.loading_after_seconds = 0.5
    service = start_service(worker=worker)
    ordinary, crisis = new_user_id(), new_user_id()
    events = [
        signed_webhook.text("家賃が払えない", user_id=ordinary),
        signed_webhook.text("もう死にたい", user_id=crisis),
    ]
    assert service.send(*events).status_code == 200
    assert service.fake.wait_for_messages(ordinary, 1, timeout=20)
    assert service.fake.wait_for_messages(crisis, 1, timeout=20)
    shown = [user for user, _ in service.fake.loading_calls]
    assert shown == [ordinary]
    assert service.fake.violations == []
