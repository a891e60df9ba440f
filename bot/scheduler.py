"""The scheduler: keep the slot horizon filled and send due booking reminders.

One scheduler per deployment (role all | scheduler), but two by mistake are harmless:
reminders are claimed with a lease (SKIP LOCKED on PostgreSQL, a conditional
UPDATE … RETURNING on SQLite) and finished only by the lease holder, the push is enqueued
under a stable dedupe key, and slots are inserted with ON CONFLICT DO NOTHING.

`run_tick(db, now)` is the whole job as a plain function (tests call it with any clock);
`start_scheduler(db)` runs it with APScheduler in a background thread.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.actions import reminders, retention, slots
from bot.actions.staff import LoginPolicy, purge_stale
from bot.db import Database
from bot.models.base import utcnow

log = logging.getLogger(__name__)

#: A claimed reminder not finished within this is claimed again (its scheduler died).
REMINDER_LEASE = timedelta(seconds=60)
REMINDER_BATCH = 100
REMINDER_EVERY_SECONDS = 30
HORIZON_EVERY_SECONDS = 3600
HOUSEKEEPING_EVERY_SECONDS = 3600


@dataclass(frozen=True)
class TickResult:
    slots_created: int = 0
    reminders_sent: int = 0
    reminders_skipped: int = 0
    reminders_lost: int = 0


def fill_horizon(db: Database, now: datetime | None = None) -> int:
    """Create the slots that should exist now (idempotent). Returns how many were new."""
    now = now or utcnow()
    with db.write() as session:
        created = slots.ensure_slots(session, now)
    if created:
        log.info("slots created count=%s", created)
    return created


def send_due_reminders(
    db: Database, now: datetime | None = None, *, limit: int = REMINDER_BATCH
) -> TickResult:
    """Claim due reminders (one short transaction), then finish each in its own: enqueue the
    push, or drop it if the booking was cancelled, the resident unfollowed, or it is late."""
    now = now or utcnow()
    token = str(uuid.uuid4())
    with db.write() as session:
        claimed = reminders.claim_due_reminders(
            session, now=now, token=token, lease=REMINDER_LEASE, limit=limit
        )
    counts = {"sent": 0, "skipped": 0, "lost": 0}
    for reminder_id in claimed:
        with db.write() as session:
            outcome = reminders.dispatch_reminder(session, reminder_id, token=token, now=now)
        counts[outcome] += 1
    if claimed:
        log.info(
            "reminders claimed=%s sent=%s skipped=%s lost=%s",
            len(claimed),
            counts["sent"],
            counts["skipped"],
            counts["lost"],
        )
    return TickResult(0, counts["sent"], counts["skipped"], counts["lost"])


def purge_stale_staff_sessions(db: Database, now: datetime | None = None) -> int:
    """Delete dead staff sessions and old login attempts (they only serve authentication)."""
    with db.write() as session:
        return purge_stale(session, now=now or utcnow(), policy=LoginPolicy())


def purge_old_content(db: Database, now: datetime | None = None, *, days: int = 365) -> int:
    """Blank resident content older than the retention period (MARUGOTO_RETENTION_DAYS)."""
    now = now or utcnow()
    with db.write() as session:
        counts = retention.purge_older_than(session, now - timedelta(days=days), now=now)
    if any(counts.values()):
        log.info("retention purge %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return sum(counts.values())


def run_tick(db: Database, now: datetime | None = None, *, fill: bool = True) -> TickResult:
    """One pass of everything the scheduler does, at `now` (aware; default: the clock)."""
    now = now or utcnow()
    created = fill_horizon(db, now) if fill else 0
    sent = send_due_reminders(db, now)
    return TickResult(created, sent.reminders_sent, sent.reminders_skipped, sent.reminders_lost)


@dataclass
class SchedulerHandle:
    scheduler: BackgroundScheduler

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)


def _guarded(job: Any, name: str) -> Any:
    def run(db: Database) -> None:
        try:
            job(db)
        except Exception as error:  # a bad tick must not stop the next one
            log.error("scheduler job failed job=%s error=%s", name, type(error).__name__)

    return run


def start_scheduler(
    db: Database,
    settings: Any = None,
    *,
    extra_jobs: Sequence[tuple[str, Callable[[Database], object], float]] = (),
) -> SchedulerHandle:
    """Start the background jobs (roles all and scheduler). `settings` (bot.settings.Settings)
    is accepted for symmetry with the other roles; the intervals are fixed. `extra_jobs`
    are (name, job(db), every seconds) for other timed work (e.g. retention purge).

    Stop with `handle.stop()` in the app's lifespan shutdown.
    """
    scheduler = BackgroundScheduler(timezone=UTC)

    def every(
        seconds: float, name: str, job: Callable[[Database], object], first: datetime | None
    ) -> None:
        """`job(db)` every `seconds`, never two at once, missed runs folded into one."""
        when = {} if first is None else {"next_run_time": first}
        scheduler.add_job(
            _guarded(job, name),
            "interval",
            seconds=seconds,
            args=[db],
            id=name,
            max_instances=1,
            coalesce=True,
            **when,
        )

    for name, job, seconds in extra_jobs:
        every(seconds, name, job, None)
    now = datetime.now(UTC)
    retention_days = int(getattr(settings, "retention_days", 365))
    every(HORIZON_EVERY_SECONDS, "fill_horizon", fill_horizon, now)
    every(
        REMINDER_EVERY_SECONDS, "send_due_reminders", send_due_reminders, now + timedelta(seconds=5)
    )
    every(
        HOUSEKEEPING_EVERY_SECONDS, "purge_stale_staff_sessions", purge_stale_staff_sessions, None
    )
    every(
        HOUSEKEEPING_EVERY_SECONDS,
        "purge_old_content",
        lambda database: purge_old_content(database, days=retention_days),
        now + timedelta(seconds=30),
    )
    scheduler.start()
    log.info("scheduler started")
    return SchedulerHandle(scheduler)


class Scheduler:
    """The app's loop contract (`await Scheduler(database, settings).run(stop)`): runs the
    APScheduler jobs until `stop` is set (roles all and scheduler)."""

    def __init__(self, database: Database, settings: Any = None) -> None:
        self.database = database
        self.settings = settings

    async def run(self, stop: asyncio.Event) -> None:
        handle = start_scheduler(self.database, self.settings)
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(handle.stop)
