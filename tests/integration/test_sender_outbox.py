"""TESTING.md group G end to end: outbox rows in a real database (SQLite, or PostgreSQL with
MARUGOTO_TEST_POSTGRES), the real sender and LINE client, the fake LINE server over HTTP.

Time is jumped by passing `now` to `send_due`, so backoffs of seconds cost nothing; the tests
that need the real loop (no tight loop, a hanging LINE) use short real timeouts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.actions.outbox import (
    PRIORITY_CRISIS,
    cancel_pending_for_resident,
    claim_due,
    enqueue,
    enqueue_push,
)
from bot.db import Database
from bot.fakeline import FakeLine
from bot.line_api import LineClient, create_line_client
from bot.models.base import utcnow
from bot.models.core import AuditLog, Outbox, Resident
from bot.settings import Settings
from bot.worker.sender import Sender, SenderConfig, send_due

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST = SenderConfig(backoff_base_seconds=1.0, poll_seconds=0.02, lease_seconds=30)


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    with FakeLine() as server:
        yield server
        assert server.violations == [], "the bot sent a request LINE would refuse"


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


def add_resident(database: Database, *, following: bool = True) -> tuple[int, str]:
    line_user_id = "U" + uuid.uuid4().hex
    with database.write() as session:
        resident = Resident(line_user_id=line_user_id, following=following, state={})
        session.add(resident)
        session.flush()
        return resident.id, line_user_id


def add_row(
    database: Database,
    resident: tuple[int, str],
    body: str = "ご案内です",
    *,
    reply_token: str | None = None,
    token_expires_in: float = 50,
    priority: int = 5,
    now: datetime | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> int:
    now = now or utcnow()
    with database.write() as session:
        row = enqueue(
            session,
            resident_id=resident[0],
            line_user_id=resident[1],
            messages=messages or [text(body)],
            dedupe_key=f"test:{uuid.uuid4()}",
            reply_token=reply_token,
            reply_token_expires_at=now + timedelta(seconds=token_expires_in),
            priority=priority,
            now=now,
        )
        return row.id


def row(database: Database, outbox_id: int) -> Outbox:
    with database.read() as session:
        found = session.get(Outbox, outbox_id)
        assert found is not None
        session.expunge(found)  # keep its loaded values after the read session ends
        return found


def with_client(
    fake: FakeLine, fn: Callable[[LineClient], Awaitable[Any]], *, timeout: float = 2.0
) -> Any:
    async def main() -> Any:
        settings = Settings.model_validate(
            {"LINE_API_BASE_URL": fake.base_url, "LINE_CHANNEL_ACCESS_TOKEN": "test-token-xyz"}
        )
        client = create_line_client(settings, timeout=timeout)
        try:
            return await fn(client)
        finally:
            await client.close()

    return asyncio.run(main())


def send_pass(
    database: Database,
    fake: FakeLine,
    now: datetime | None = None,
    *,
    timeout: float = 2.0,
    config: SenderConfig = FAST,
) -> int:
    return int(
        with_client(fake, lambda c: send_due(database, c, now, config=config), timeout=timeout)
    )


def pushes(fake: FakeLine) -> list[Any]:
    return fake.requests_to("push")


# --- G1, G2: reply first while fresh, else push with the retry key ----------------------------


def test_g1_fresh_reply_token_is_used_once_and_no_push(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    token = fake.issue_reply_token(resident[1])
    outbox_id = add_row(database, resident, "こんにちは", reply_token=token)

    assert send_pass(database, fake) == 1
    assert send_pass(database, fake) == 0

    assert fake.messages_to(resident[1]) == [text("こんにちは")]
    assert [r.endpoint for r in fake.requests] == ["reply"]
    sent = row(database, outbox_id)
    assert (sent.status, sent.sent_via, sent.attempts) == ("sent", "reply", 1)
    assert sent.reply_token is None  # spent, and not kept


def test_g2_rejected_reply_token_falls_back_to_push_with_retry_key(
    database: Database, fake: FakeLine
) -> None:
    resident = add_resident(database)
    fake.reject_reply_tokens()
    outbox_id = add_row(database, resident, reply_token=fake.issue_reply_token(resident[1]))

    assert send_pass(database, fake) == 1

    sent = row(database, outbox_id)
    assert [(r.endpoint, r.status) for r in fake.requests] == [("reply", 400), ("push", 200)]
    assert pushes(fake)[0].retry_key == sent.retry_key
    assert fake.messages_to(resident[1]) == [text("ご案内です")]
    assert (sent.status, sent.sent_via) == ("sent", "push")


def test_g2_stale_reply_token_is_not_tried(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    token = fake.issue_reply_token(resident[1])
    outbox_id = add_row(database, resident, reply_token=token, token_expires_in=-1)

    assert send_pass(database, fake) == 1

    assert [r.endpoint for r in fake.requests] == ["push"]
    assert row(database, outbox_id).sent_via == "push"
    assert len(fake.messages_to(resident[1])) == 1


def test_reply_token_is_offered_to_one_claim_only(database: Database, fake: FakeLine) -> None:
    """A sender that dies holding a claim may or may not have replied; the next claim can
    only push (with the retry key), never reuse the token."""
    resident = add_resident(database)
    now = utcnow()
    token = fake.issue_reply_token(resident[1])
    outbox_id = add_row(database, resident, reply_token=token, now=now)
    with database.write() as session:
        [claimed] = claim_due(session, now=now, limit=5, lease_seconds=1)
    assert claimed.reply_token is not None  # ... and then this sender "dies"
    assert row(database, outbox_id).reply_token is None

    assert send_pass(database, fake, now + timedelta(seconds=2)) == 1
    assert [r.endpoint for r in fake.requests] == ["push"]
    assert row(database, outbox_id).sent_via == "push"


# --- G4, G5, G6, G7: retries, 409, Retry-After, dead letters ----------------------------------


def test_g4_500_500_200_three_tries_same_key_growing_delays(
    database: Database, fake: FakeLine
) -> None:
    resident = add_resident(database)
    fake.fail_next("push", status=500, times=2)
    now = utcnow()
    outbox_id = add_row(database, resident, now=now)

    delays = []
    for _ in range(2):
        assert send_pass(database, fake, now) == 1
        waiting = row(database, outbox_id)
        assert waiting.status == "pending" and waiting.last_error == "http_500"
        delay = (waiting.next_attempt_at - now).total_seconds()
        delays.append(delay)
        # Not due a moment before its time: no hammering.
        assert send_pass(database, fake, now + timedelta(seconds=delay - 0.05)) == 0
        now = waiting.next_attempt_at
    assert send_pass(database, fake, now) == 1

    tries = pushes(fake)
    sent = row(database, outbox_id)
    assert [t.status for t in tries] == [500, 500, 200]
    assert {t.retry_key for t in tries} == {sent.retry_key}
    assert 0 < delays[0] < delays[1]
    assert fake.messages_to(resident[1]) == [text("ご案内です")]
    assert (sent.status, sent.attempts) == ("sent", 3)


def test_g5_push_times_out_then_409_means_sent(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    fake.hang_next("push", seconds=3.0)  # LINE takes it but answers too late
    now = utcnow()
    outbox_id = add_row(database, resident, now=now)

    assert send_pass(database, fake, now, timeout=0.3) == 1
    waiting = row(database, outbox_id)
    assert (waiting.status, waiting.last_error) == ("pending", "timeout")
    assert send_pass(database, fake, waiting.next_attempt_at) == 1  # answered at once: 409
    assert send_pass(database, fake, waiting.next_attempt_at + timedelta(hours=1)) == 0

    sent = row(database, outbox_id)
    assert [t.status for t in pushes(fake)] == [200, 409]
    assert {t.retry_key for t in pushes(fake)} == {sent.retry_key}
    assert (sent.status, sent.sent_via) == ("sent", "push")
    assert fake.messages_to(resident[1]) == [text("ご案内です")]


def test_g6_429_retry_after_is_respected(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    fake.fail_next("push", status=429, retry_after=30)
    now = utcnow()
    outbox_id = add_row(database, resident, now=now)

    assert send_pass(database, fake, now) == 1
    waiting = row(database, outbox_id)
    assert waiting.next_attempt_at >= now + timedelta(seconds=30)
    assert send_pass(database, fake, now + timedelta(seconds=29)) == 0
    assert len(pushes(fake)) == 1 and fake.deliveries == []

    assert send_pass(database, fake, waiting.next_attempt_at) == 1
    assert row(database, outbox_id).status == "sent"
    assert len(fake.messages_to(resident[1])) == 1


def test_g6_no_tight_loop_in_the_running_sender(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    fake.fail_next("push", status=429, retry_after=2)
    add_row(database, resident)

    async def run_for(client: LineClient) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(Sender(database, client, FAST).run(stop))
        await asyncio.sleep(1.2)  # the loop polls every 20 ms meanwhile
        stop.set()
        await task

    with_client(fake, run_for)
    assert [t.status for t in pushes(fake)] == [429]
    assert fake.deliveries == []


@pytest.mark.parametrize("status", [400, 401, 403])
def test_g7_4xx_is_dead_lettered_without_retry(
    database: Database, fake: FakeLine, status: int
) -> None:
    resident = add_resident(database)
    fake.fail_next("push", status=status)
    now = utcnow()
    outbox_id = add_row(database, resident, now=now)

    assert send_pass(database, fake, now) == 1
    assert send_pass(database, fake, now + timedelta(days=1)) == 0

    dead = row(database, outbox_id)
    assert (dead.status, dead.last_error) == ("dead", f"http_{status}")
    assert len(pushes(fake)) == 1
    with database.read() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "outbox_dead")).one()
        assert audit.target_id == str(outbox_id)
        assert audit.detail == {"error": f"http_{status}"}


def test_retryable_failures_give_up_after_max_attempts(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    fake.fail_next("push", status=503, times=3)
    config = SenderConfig(backoff_base_seconds=1.0, max_attempts=3)
    now = utcnow()
    outbox_id = add_row(database, resident, now=now)
    for _ in range(3):
        assert send_pass(database, fake, now, config=config) == 1
        now += timedelta(hours=1)
    dead = row(database, outbox_id)
    assert (dead.status, dead.last_error, dead.attempts) == ("dead", "gave_up_http_503", 3)
    assert fake.deliveries == []


def test_invalid_message_is_dead_lettered_before_reaching_line(
    database: Database, fake: FakeLine
) -> None:
    resident = add_resident(database)
    outbox_id = add_row(database, resident, messages=[{"type": "text"}])
    assert send_pass(database, fake) == 1
    dead = row(database, outbox_id)
    assert (dead.status, dead.last_error) == ("dead", "invalid_message")
    assert fake.requests == []


# --- G8: a hanging LINE does not hold the others -----------------------------------------------


def test_g8_hanging_line_times_out_and_other_rows_keep_flowing(
    database: Database, fake: FakeLine
) -> None:
    residents = [add_resident(database) for _ in range(4)]
    fake.hang_next("push", seconds=3.0)
    config = SenderConfig(backoff_base_seconds=0.2, poll_seconds=0.05, concurrency=4)
    ids = [add_row(database, r, f"{i}番") for i, r in enumerate(residents)]

    def statuses() -> list[tuple[str, int]]:
        return [(r.status, r.attempts) for r in (row(database, i) for i in ids)]

    async def run(client: LineClient) -> list[tuple[str, int]]:
        stop = asyncio.Event()
        started = time.monotonic()
        task = asyncio.create_task(Sender(database, client, config).run(stop))
        now = await asyncio.to_thread(statuses)
        while [status for status, _ in now].count("sent") < 3:
            assert time.monotonic() - started < 5
            await asyncio.sleep(0.01)
            now = await asyncio.to_thread(statuses)
        while {s for s, _ in await asyncio.to_thread(statuses)} != {"sent"}:
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.02)
        stop.set()
        await task
        return now

    at_that_moment = with_client(fake, run, timeout=2.0)
    # Three were sent while the fourth still waited on LINE: its first try, not yet timed
    # out (a timeout makes it pending again, a retry counts a second attempt). A state,
    # not a stopwatch: a busy machine cannot fake it.
    assert sorted(at_that_moment) == [("sending", 1), ("sent", 1), ("sent", 1), ("sent", 1)]
    for resident in residents:
        assert len(fake.messages_to(resident[1])) == 1
    # The timed-out one was retried with its key: 409, so still one message each.
    assert sorted(r.status for r in pushes(fake)) == [200, 200, 200, 200, 409]


def test_new_rows_flow_while_one_request_hangs(database: Database, fake: FakeLine) -> None:
    first = add_resident(database)
    later = [add_resident(database) for _ in range(3)]
    fake.hang_next("push", seconds=3.0)
    config = SenderConfig(backoff_base_seconds=0.2, poll_seconds=0.05, concurrency=2)
    first_id = add_row(database, first)

    async def run(client: LineClient) -> tuple[str, int]:
        stop = asyncio.Event()
        task = asyncio.create_task(Sender(database, client, config).run(stop))
        while not pushes(fake):
            await asyncio.sleep(0.01)
        started = time.monotonic()
        for resident in later:  # enqueued after the hang began
            await asyncio.to_thread(add_row, database, resident)
        while not all(fake.messages_to(r[1]) for r in later):
            assert time.monotonic() - started < 5
            await asyncio.sleep(0.01)
        hanging = await asyncio.to_thread(row, database, first_id)
        stop.set()
        await task
        return hanging.status, hanging.attempts

    # When all three later rows had arrived, the hanging one was still on its first try
    # (not timed out and retried): they did not wait for it.
    assert with_client(fake, run, timeout=2.0) == ("sending", 1), "rows waited for the hang"


# --- G10: killed after the API call, before marking sent ---------------------------------------

_KILLED_SENDER = """
import asyncio, sys
from bot.db import Database
from bot.line_api import create_line_client
from bot.settings import Settings
from bot.worker.sender import SenderConfig, send_due

async def main():
    db = Database.connect(sys.argv[1])
    settings = Settings(LINE_API_BASE_URL=sys.argv[2], LINE_CHANNEL_ACCESS_TOKEN="test-token")
    client = create_line_client(settings, timeout=120)
    await send_due(db, client, config=SenderConfig(lease_seconds=float(sys.argv[3])))

asyncio.run(main())
"""


def test_g10_killed_sender_resends_with_same_key_and_409(
    database: Database, fake: FakeLine
) -> None:
    resident = add_resident(database)
    outbox_id = add_row(database, resident, "一度だけ")
    fake.hang_next("push", seconds=120)  # LINE accepted it; the answer never gets back
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SENDER, database.url, fake.base_url, "5"],
        cwd=REPO_ROOT,
    )
    try:
        assert fake.wait_for(lambda: len(fake.requests_to("push")) == 1, timeout=30)
    finally:
        process.kill()
        process.wait(10)
    in_flight = row(database, outbox_id)
    assert in_flight.status == "sending"  # the kill came before "sent" was written
    assert fake.messages_to(resident[1]) == [text("一度だけ")]

    assert send_pass(database, fake, utcnow()) == 0  # lease still held
    assert send_pass(database, fake, utcnow() + timedelta(seconds=6)) == 1

    sent = row(database, outbox_id)
    assert [t.status for t in pushes(fake)] == [200, 409]
    assert {t.retry_key for t in pushes(fake)} == {sent.retry_key}
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert fake.messages_to(resident[1]) == [text("一度だけ")]


# --- who gets what, in which order ----------------------------------------------------------


def test_never_sends_to_a_resident_who_unfollowed(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database, following=False)
    outbox_id = add_row(database, resident, reply_token=fake.issue_reply_token(resident[1]))
    assert send_pass(database, fake) == 0
    cancelled = row(database, outbox_id)
    assert (cancelled.status, cancelled.last_error) == ("cancelled", "not_following")
    assert fake.requests == []


def test_cancel_pending_for_resident(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    other = add_resident(database)
    mine = [add_row(database, resident) for _ in range(2)]
    theirs = add_row(database, other)
    with database.write() as session:
        assert cancel_pending_for_resident(session, resident[0], reason="unfollow") == 2
    assert send_pass(database, fake) == 1
    assert {row(database, i).status for i in mine} == {"cancelled"}
    assert row(database, theirs).status == "sent"
    assert fake.messages_to(resident[1]) == []


def test_crisis_rows_go_first(database: Database, fake: FakeLine) -> None:
    residents = [add_resident(database) for _ in range(4)]
    for r in residents[:3]:
        add_row(database, r, "ふつう")
    add_row(database, residents[3], "いま話せる窓口", priority=PRIORITY_CRISIS)
    config = SenderConfig(concurrency=1)
    with_client(fake, lambda c: send_due(database, c, config=config, limit=1))
    assert [d.user_id for d in fake.deliveries] == [residents[3][1]]
    send_pass(database, fake)
    assert len(fake.deliveries) == 4


def test_enqueue_is_idempotent_on_dedupe_key(database: Database, fake: FakeLine) -> None:
    resident = add_resident(database)
    with database.write() as session:
        first = enqueue_push(
            session,
            resident_id=resident[0],
            line_user_id=resident[1],
            messages=[text("職員からです")],
            dedupe_key="staff:42",
            origin="staff",
        )
    with database.write() as session:
        again = enqueue_push(
            session,
            resident_id=resident[0],
            line_user_id=resident[1],
            messages=[text("職員からです")],
            dedupe_key="staff:42",
            origin="staff",
        )
    assert (again.id, again.retry_key) == (first.id, first.retry_key)
    assert send_pass(database, fake) == 1
    assert fake.messages_to(resident[1]) == [text("職員からです")]


def test_enqueue_refuses_more_than_five_messages(database: Database) -> None:
    resident = add_resident(database)
    with pytest.raises(ValueError), database.write() as session:
        enqueue_push(
            session,
            resident_id=resident[0],
            line_user_id=resident[1],
            messages=[text("x")] * 6,
            dedupe_key="too-many",
            origin="system",
        )


def test_concurrent_claims_never_take_a_row_twice(database: Database) -> None:
    residents = [add_resident(database) for _ in range(5)]
    for r in residents:
        for _ in range(6):
            add_row(database, r)
    now = utcnow()
    taken: list[int] = []
    lock = threading.Lock()

    def claimer() -> None:
        while True:
            with database.write() as session:
                rows = claim_due(session, now=now, limit=3, lease_seconds=60)
            if not rows:
                return
            with lock:
                taken.extend(r.id for r in rows)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(taken) == 30
    assert len(set(taken)) == 30
