"""The outbox sender: takes due outbox rows and gets them to LINE exactly once.

Per row: reply with the reply token while it is fresh (once); if LINE refuses the token, or
there is none, push with the row's X-Line-Retry-Key. 429/5xx/timeouts are retried later with
exponential backoff and jitter (never sooner than Retry-After) and the same key; 409 means
LINE already has it (sent); any other 4xx is dead-lettered with its status code.

Rows are sent concurrently (a small bound), so one hanging request holds one slot for at most
the client timeout while the others keep flowing. The database is touched from a thread so
the event loop (which also serves the webhook) never waits on it.

Start it in the app's lifespan:

    stop = asyncio.Event()
    sender = Sender(db, line_client, SenderConfig.from_settings(settings))
    task = asyncio.create_task(sender.run(stop))
    ...  # the worker calls sender.notify() after committing outbox rows
    stop.set(); await task
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.actions import outbox
from bot.actions.outbox import ClaimedOutbox
from bot.db import Database
from bot.line_api import LineClient, SendResult
from bot.models.base import utcnow
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderConfig:
    #: Requests in flight at once (LINE allows far more; this keeps one process polite).
    concurrency: int = 8
    #: How long a claimed row is ours. Must cover a reply and a push with their timeouts;
    #: a sender that dies leaves the row to be re-sent (same key) once this expires.
    lease_seconds: float = 60.0
    #: Idle wait between looks at the outbox when nobody calls notify().
    poll_seconds: float = 0.2
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 600.0
    #: Retryable failures before a row is dead-lettered (≈ 1.5 h with the defaults).
    max_attempts: int = 12

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderConfig:
        return cls(
            poll_seconds=settings.worker_poll_seconds,
            lease_seconds=max(60.0, 4 * settings.line_timeout_seconds + 10),
        )


def backoff_delay(attempts: int, config: SenderConfig, rng: random.Random | None = None) -> float:
    """Seconds before try `attempts + 1`: exponential with "equal jitter", so each delay is
    at least half its step (it grows) and senders that failed together spread out."""
    step = min(config.backoff_cap_seconds, config.backoff_base_seconds * 2 ** max(0, attempts - 1))
    jitter: float = (rng or random).uniform(0, step / 2)
    return float(step / 2 + jitter)


def _claim(db: Database, now: datetime, limit: int, config: SenderConfig) -> list[ClaimedOutbox]:
    with db.write() as session:
        return outbox.claim_due(session, now=now, limit=limit, lease_seconds=config.lease_seconds)


def _finish_sent(
    db: Database, row: ClaimedOutbox, via: str, now: datetime, note: str | None
) -> None:
    with db.write() as session:
        outbox.mark_sent(session, row.id, via=via, now=now, note=note)


def _finish_retry(db: Database, row: ClaimedOutbox, when: datetime, error: str) -> None:
    with db.write() as session:
        outbox.schedule_retry(session, row.id, next_attempt_at=when, error=error)


def _finish_dead(db: Database, row: ClaimedOutbox, error: str, now: datetime) -> None:
    with db.write() as session:
        outbox.dead_letter(session, row.id, error=error, now=now)


async def send_one(
    db: Database,
    client: LineClient,
    row: ClaimedOutbox,
    *,
    clock: Callable[[], datetime] = utcnow,
    config: SenderConfig | None = None,
) -> str:
    """Send one claimed row; returns "sent", "retry" or "dead". Never logs content."""
    config = config or SenderConfig()
    if row.reply_token:
        result = await client.reply(row.reply_token, row.messages)
        if result.delivered:
            await asyncio.to_thread(_finish_sent, db, row, "reply", clock(), None)
            log.info("outbox %s sent via reply", row.id)
            return "sent"
        if result.outcome == "rejected" and result.status is None:
            return await _dead(db, row, result, clock)  # our message is invalid: push won't help
        if result.outcome == "retryable":
            # Unknown whether LINE took it (timeout) or not (429/5xx): the token is spent,
            # so the next try is a push with the retry key.
            return await _retry(db, row, result, clock, config)
        log.info("outbox %s reply refused (%s); pushing", row.id, result.error)
    result = await client.push(row.line_user_id, row.messages, row.retry_key)
    if result.delivered:
        note = "already_accepted_409" if result.outcome == "already_accepted" else None
        await asyncio.to_thread(_finish_sent, db, row, "push", clock(), note)
        log.info("outbox %s sent via push (%s)", row.id, result.status)
        return "sent"
    if result.outcome == "retryable":
        return await _retry(db, row, result, clock, config)
    return await _dead(db, row, result, clock)


async def _retry(
    db: Database,
    row: ClaimedOutbox,
    result: SendResult,
    clock: Callable[[], datetime],
    config: SenderConfig,
) -> str:
    error = result.error or "retryable"
    if row.attempts >= config.max_attempts:
        return await _dead(db, row, result, clock, prefix="gave_up_")
    delay = max(backoff_delay(row.attempts, config), result.retry_after or 0.0)
    when = clock() + timedelta(seconds=delay)
    await asyncio.to_thread(_finish_retry, db, row, when, error)
    log.warning("outbox %s try %s failed (%s); next in %.1fs", row.id, row.attempts, error, delay)
    return "retry"


async def _dead(
    db: Database,
    row: ClaimedOutbox,
    result: SendResult,
    clock: Callable[[], datetime],
    prefix: str = "",
) -> str:
    error = prefix + (result.error or "rejected")
    await asyncio.to_thread(_finish_dead, db, row, error, clock())
    log.error("outbox %s dead-lettered (%s) after %s tries", row.id, error, row.attempts)
    return "dead"


async def send_due(
    db: Database,
    client: LineClient,
    now: datetime | None = None,
    *,
    config: SenderConfig | None = None,
    limit: int = 50,
) -> int:
    """One pass: claim what is due at `now` (default: the clock), send it concurrently,
    record the outcomes. Returns how many rows were claimed. Tests pass `now` to jump time."""
    config = config or SenderConfig()
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    rows = await asyncio.to_thread(_claim, db, clock(), limit, config)
    if not rows:
        return 0
    slots = asyncio.Semaphore(config.concurrency)

    async def bounded(row: ClaimedOutbox) -> None:
        async with slots:
            try:
                await send_one(db, client, row, clock=clock, config=config)
            except Exception:
                # The row keeps its lease and is re-sent (same key) when the lease expires.
                log.exception("outbox %s: sending failed unexpectedly", row.id)

    await asyncio.gather(*(bounded(row) for row in rows))
    return len(rows)


class Sender:
    """The long-running loop: keeps up to `concurrency` rows in flight, claims more as slots
    free up, wakes on notify() or every poll interval."""

    def __init__(
        self,
        db: Database,
        client: LineClient,
        config: SenderConfig | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self.db = db
        self.client = client
        if config is None:
            config = SenderConfig.from_settings(settings) if settings else SenderConfig()
        self.config = config
        self._kick = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def notify(self) -> None:
        """New rows were committed: look now instead of at the next poll (same event loop)."""
        self._kick.set()

    #: The name bot.app's worker listener calls.
    wake = notify

    def notify_threadsafe(self) -> None:
        """notify() from another thread (e.g. a worker running in a thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._kick.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        inflight: set[asyncio.Task[None]] = set()
        relay = asyncio.create_task(self._relay(stop))
        try:
            while not stop.is_set():
                self._kick.clear()
                free = self.config.concurrency - len(inflight)
                claimed: list[ClaimedOutbox] = []
                if free > 0:
                    try:
                        claimed = await asyncio.to_thread(
                            _claim, self.db, utcnow(), free, self.config
                        )
                    except Exception:
                        log.exception("outbox claim failed; retrying after a pause")
                        await self._pause(stop, max(1.0, self.config.poll_seconds))
                        continue
                for row in claimed:
                    task = asyncio.create_task(self._send(row))
                    inflight.add(task)
                    task.add_done_callback(self._done(inflight))
                # Wakes early when a send finishes (a slot frees) or notify() is called.
                await self._pause(stop, self.config.poll_seconds)
        finally:
            relay.cancel()
            if inflight:
                # Each request is bounded by the client timeout; rows cut short are re-sent
                # with the same key after their lease.
                await asyncio.wait(inflight, timeout=self.client.timeout + 2)

    def _done(self, inflight: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
        def callback(task: asyncio.Task[None]) -> None:
            inflight.discard(task)
            self._kick.set()

        return callback

    async def _send(self, row: ClaimedOutbox) -> None:
        try:
            await send_one(self.db, self.client, row, config=self.config)
        except Exception:
            log.exception("outbox %s: sending failed unexpectedly", row.id)

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._kick.set()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kick.wait(), timeout=seconds)


async def run_sender(
    db: Database, client: LineClient, stop: asyncio.Event, config: SenderConfig | None = None
) -> None:
    """`asyncio.create_task(run_sender(db, client, stop))` — the sender without notify()."""
    await Sender(db, client, config).run(stop)
