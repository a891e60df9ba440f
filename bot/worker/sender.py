"""The outbox sender: takes due outbox rows and gets them to LINE exactly once.

Per row: reply with the reply token while it is fresh (once); if LINE refuses the token, or
there is none, push with the row's X-Line-Retry-Key. 429/5xx/timeouts are retried later with
exponential backoff and jitter (never sooner than Retry-After) and the same key; 409 means
LINE already has it (sent); any other 4xx is dead-lettered with its status code.

Rows are sent concurrently (a small bound), so one hanging request holds one slot for at most
the client timeout while the others keep flowing. The database is touched from a thread so
the event loop (which also serves the webhook) never waits on it, and once per loop turn:
the outcomes of the sends that finished and the next claim share one transaction.

Start it in the app's lifespan, inside the running loop (bot.app does this):

    line = create_line_client(settings)               # bot.line_api
    sender = Sender(db, line, settings=settings)
    task = asyncio.create_task(sender.run(stop))      # stop: asyncio.Event
    ...  # after committing outbox rows: sender.wake() (same loop) / notify_threadsafe()
    stop.set(); await task; await line.close()

Tests drive one pass with `await send_due(db, client, now)`, jumping `now` past backoffs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from bot.actions import outbox
from bot.actions.outbox import ClaimedOutbox
from bot.db import Database
from bot.line_api import LineClient, SendResult
from bot.models.base import utcnow
from bot.settings import Settings
from bot.webhook_first import WebhookFirst

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderConfig:
    #: Requests in flight at once (LINE allows far more; this keeps one process polite).
    concurrency: int = 16
    #: How long a claimed row is ours. Must cover a reply and a push with their timeouts;
    #: a sender that dies leaves the row to be re-sent (same key) once this expires.
    lease_seconds: float = 60.0
    #: Idle wait between looks at the outbox when nobody calls notify().
    poll_seconds: float = 0.2
    #: After a wake-up, wait this long for more wake-ups (answers stored, sends finished) so
    #: one transaction records and claims many rows. Skipped when a crisis answer is waiting
    #: (`notify(urgent=True)`) or when no slot is free to send more.
    gather_seconds: float = 0.004
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


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row, to be written to the outbox (no content inside)."""

    row: ClaimedOutbox
    kind: Literal["sent", "retry", "dead"]
    at: datetime
    via: str | None = None
    note: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


async def attempt(
    client: LineClient,
    row: ClaimedOutbox,
    *,
    clock: Callable[[], datetime] = utcnow,
    config: SenderConfig | None = None,
) -> Outcome:
    """Talk to LINE for one claimed row and decide its fate. No database access here, so
    the caller can record many outcomes in one transaction."""
    config = config or SenderConfig()
    if row.reply_token:
        result = await client.reply(row.reply_token, row.messages_json)
        if result.delivered:
            return Outcome(row, "sent", clock(), via="reply")
        if result.outcome == "rejected" and result.status is None:
            return _dead(row, result, clock)  # our message is invalid: a push won't help
        if result.outcome == "retryable":
            # Unknown whether LINE took it (timeout) or not (429/5xx): the token is spent
            # either way, so the next try is a push with the retry key.
            return _retry(row, result, clock, config)
        log.info("outbox %s reply refused (%s); pushing", row.id, result.error)
    result = await client.push(row.line_user_id, row.messages_json, row.retry_key)
    if result.delivered:
        note = "already_accepted_409" if result.outcome == "already_accepted" else None
        return Outcome(row, "sent", clock(), via="push", note=note)
    if result.outcome == "retryable":
        return _retry(row, result, clock, config)
    return _dead(row, result, clock)


def _retry(
    row: ClaimedOutbox, result: SendResult, clock: Callable[[], datetime], config: SenderConfig
) -> Outcome:
    if row.attempts >= config.max_attempts:
        return _dead(row, result, clock, prefix="gave_up_")
    delay = max(backoff_delay(row.attempts, config), result.retry_after or 0.0)
    now = clock()
    return Outcome(
        row,
        "retry",
        now,
        error=result.error or "retryable",
        next_attempt_at=now + timedelta(seconds=delay),
    )


def _dead(
    row: ClaimedOutbox, result: SendResult, clock: Callable[[], datetime], prefix: str = ""
) -> Outcome:
    return Outcome(row, "dead", clock(), error=prefix + (result.error or "rejected"))


def record(session: Session, outcomes: list[Outcome]) -> None:
    """Write outcomes in the caller's transaction: sent rows in one UPDATE per kind."""
    sent: dict[tuple[str | None, str | None], list[int]] = defaultdict(list)
    for outcome in outcomes:
        row = outcome.row
        if outcome.kind == "sent":
            sent[(outcome.via, outcome.note)].append(row.id)
        elif outcome.kind == "retry":
            assert outcome.next_attempt_at is not None
            outbox.schedule_retry(
                session,
                row.id,
                next_attempt_at=outcome.next_attempt_at,
                error=outcome.error or "retryable",
            )
            wait = (outcome.next_attempt_at - outcome.at).total_seconds()
            log.warning(
                "outbox %s try %s failed (%s); next in %.1fs",
                row.id,
                row.attempts,
                outcome.error,
                wait,
            )
        else:
            outbox.dead_letter(session, row.id, error=outcome.error or "rejected", now=outcome.at)
            log.error(
                "outbox %s dead-lettered (%s) after %s tries", row.id, outcome.error, row.attempts
            )
    now = max((o.at for o in outcomes), default=utcnow())
    for (via, note), ids in sent.items():
        outbox.mark_sent_many(session, ids, via=via or "push", now=now, note=note)
        # One line per kind and batch (ids only).
        log.info("outbox sent %d via %s%s: ids=%s", len(ids), via, _note(note), _ids(ids))


def _ids(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def _note(note: str | None) -> str:
    return f" ({note})" if note else ""


def _record_and_claim(
    db: Database, outcomes: list[Outcome], now: datetime, limit: int, config: SenderConfig
) -> list[ClaimedOutbox]:
    """One write transaction: the finished rows' outcomes, then the next due rows."""
    with db.write() as session:
        if outcomes:
            record(session, outcomes)
        if limit <= 0:
            return []
        return outbox.claim_due(session, now=now, limit=limit, lease_seconds=config.lease_seconds)


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
    rows = await asyncio.to_thread(_record_and_claim, db, [], clock(), limit, config)
    if not rows:
        return 0
    slots = asyncio.Semaphore(config.concurrency)

    async def bounded(row: ClaimedOutbox) -> Outcome | None:
        async with slots:
            try:
                return await attempt(client, row, clock=clock, config=config)
            except Exception:
                # The row keeps its lease and is re-sent (same key) when the lease expires.
                log.exception("outbox %s: sending failed unexpectedly", row.id)
                return None

    results = await asyncio.gather(*(bounded(row) for row in rows))
    outcomes = [o for o in results if o is not None]
    await asyncio.to_thread(_record_and_claim, db, outcomes, clock(), 0, config)
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
        #: Set by notify(urgent=True): a crisis answer is due, claim it without a gather wait.
        self._urgent = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Outcomes waiting to be written with the next claim (one transaction for both).
        self._finished: list[Outcome] = []
        #: Set by the app (one process with the webhook): see bot.webhook_first.
        self.webhook_first: WebhookFirst | None = None

    def notify(self, urgent: bool = False) -> None:
        """New rows were committed: look now instead of at the next poll (same event loop).
        `urgent`: a crisis row is among them, so the sender skips its gather window."""
        if urgent:
            self._urgent.set()
        self._kick.set()

    #: The name bot.app's worker listener calls.
    wake = notify

    def notify_threadsafe(self, urgent: bool = False) -> None:
        """notify() from another thread (e.g. a worker running in a thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.notify, urgent)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        inflight: set[asyncio.Task[None]] = set()
        relay = asyncio.create_task(self._relay(stop))
        try:
            while not stop.is_set():
                if self.webhook_first is not None and not self._urgent.is_set():
                    await self.webhook_first.step_aside_async()
                self._kick.clear()
                free = self.config.concurrency - len(inflight)
                if free > 0:
                    self._urgent.clear()  # this claim takes crisis rows first
                finished, self._finished = self._finished, []
                try:
                    claimed = await asyncio.to_thread(
                        _record_and_claim, self.db, finished, utcnow(), free, self.config
                    )
                except Exception:
                    self._finished = finished + self._finished  # write them next time
                    log.exception("outbox write failed; retrying after a pause")
                    await self._pause(stop, max(1.0, self.config.poll_seconds))
                    continue
                for row in claimed:
                    task = asyncio.create_task(self._send(row))
                    inflight.add(task)
                    task.add_done_callback(self._done(inflight))
                # Wakes early when a send finishes (a slot frees) or notify() is called.
                if await self._pause(stop, self.config.poll_seconds):
                    await self._gather(stop, len(inflight))
        finally:
            relay.cancel()
            if inflight:
                # Each request is bounded by the client timeout; rows cut short are re-sent
                # with the same key after their lease.
                await asyncio.wait(inflight, timeout=self.client.timeout + 2)
            if self._finished:
                finished, self._finished = self._finished, []
                try:
                    await asyncio.to_thread(
                        _record_and_claim, self.db, finished, utcnow(), 0, self.config
                    )
                except Exception:
                    log.exception("outbox write failed at shutdown; leases will resend")

    def _done(self, inflight: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
        def callback(task: asyncio.Task[None]) -> None:
            inflight.discard(task)
            self._kick.set()

        return callback

    async def _send(self, row: ClaimedOutbox) -> None:
        try:
            outcome = await attempt(self.client, row, config=self.config)
            # Look up the list only now: the loop swaps it out while we were awaiting.
            self._finished.append(outcome)
        except Exception:
            log.exception("outbox %s: sending failed unexpectedly", row.id)

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._kick.set()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> bool:
        """Wait for a kick (True) or `seconds` (False)."""
        if stop.is_set():
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kick.wait(), timeout=seconds)
            return True
        return False

    async def _gather(self, stop: asyncio.Event, inflight: int) -> None:
        """A short window after a kick so more finished sends and new answers share the next
        transaction. Never when a crisis answer waits, or when no slot could take more."""
        gather = self.config.gather_seconds
        if gather <= 0 or stop.is_set() or self._urgent.is_set():
            return
        if inflight >= self.config.concurrency:
            return  # only finished sends can kick now; record them without waiting
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._urgent.wait(), timeout=gather)


async def run_sender(
    db: Database, client: LineClient, stop: asyncio.Event, config: SenderConfig | None = None
) -> None:
    """`asyncio.create_task(run_sender(db, client, stop))` — the sender without notify()."""
    await Sender(db, client, config).run(stop)
