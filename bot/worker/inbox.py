"""The inbox worker: claim events, run the conversation, store the results atomically.

One round (`run_once`): claim a batch (at most one event per user, crisis first) with a
lease → read each resident's state → run the pure conversation step (triage included) →
one write transaction for the batch with a savepoint per event (inbox done + state + message
log + effects + outbox row). A crash anywhere before the commit leaves the events claimed
with a lease that runs out, so another worker answers them; a crash after it has nothing
left to do. The outbox dedupe key makes a second answer to one event impossible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import exists, select

import bot.conversation
import triage
from bot.actions.conversation import (
    LeaseLost,
    Outcome,
    answer_after_failure,
    apply_plain_steps,
    apply_step,
    is_plain,
)
from bot.actions.inbox import ClaimedEvent, claim, give_up, postpone
from bot.conversation import Context, State, Step, events
from bot.db import Database
from bot.logging import exception_summary
from bot.models.base import utcnow
from bot.models.core import OPEN_HANDOFF_STATUSES, Handoff, Resident
from bot.queries.booking import DbBookingPort
from bot.webhook_first import WebhookFirst
from triage.analysis import Analysis

log = logging.getLogger("marugoto.worker.inbox")

MEDIA_KINDS = {"image", "sticker", "video", "audio", "file"}
#: Event types a resident expects an answer to (and gets the fallback for, on failure).
ANSWERED_KINDS = frozenset({"message", "postback"})

#: Crash points for tests (TESTING.md H1): `crash(point)` runs at each of them.
CRASH_POINTS = ("claimed", "stepped", "before_commit")


class Conversation(Protocol):
    """What the worker runs: bot.conversation itself, or a test double wrapping it (to slow
    a step down, record it or make it fail)."""

    def step(self, state: State, event: events.Event, ctx: Context) -> Step: ...

    def fallback(self, now: datetime) -> list[dict[str, Any]]: ...


@dataclass(slots=True)
class _ResidentView:
    state: dict[str, Any]
    staff_active: bool
    following: bool
    #: An urgent (crisis) case is open for this resident: the conversation stays in crisis
    #: mode however long ago the crisis message was, until staff close the case.
    urgent_case_open: bool = False


class InboxWorker:
    """Claims and processes inbox events. Safe to run several at once, in any process."""

    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = 60.0,
        batch_size: int = 16,
        max_attempts: int = 5,
        poll_seconds: float = 0.2,
        gather_seconds: float = 0.004,
        conversation: Conversation | None = None,
        analyse: Callable[[str], Analysis] | None = None,
        crash: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        #: What "now" is for a round (tests pass a fixed clock: a date far from the next
        #: monthly session, a reminder's hour).
        self._clock = clock
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        #: After a wake-up, wait this long for more events so a round carries more of them
        #: (per-round costs dominate when rounds are tiny). Skipped when a crisis event is
        #: stored (`wake(urgent=True)`) or when a batch's worth of events is already waiting.
        self.gather_seconds = gather_seconds
        self.conversation: Conversation = conversation or bot.conversation
        self._analyse: Callable[[str], Analysis] = analyse or triage.analyse
        self._crash = crash
        self._answer_listeners: list[Callable[[bool], None]] = []
        #: `await show_loading(line_user_id)` (bot.line_api.LineClient.show_loading), set by
        #: the app; called for the chats of a round still running after this many seconds.
        self.show_loading: Callable[[str], Awaitable[Any]] | None = None
        self.loading_after_seconds = 1.0
        self._wake: asyncio.Event | None = None
        self._urgent: asyncio.Event | None = None
        self._woken_events = 0
        #: A crisis event was stored and the inbox has not been seen empty since: no gather
        #: windows (it may still wait behind the same resident's earlier event).
        self._crisis = False
        #: Set by the app (one process with the webhook): pause between events while LINE
        #: waits for acknowledgements (bot.webhook_first).
        self.webhook_first: WebhookFirst | None = None

    def _checkpoint(self, point: str) -> None:
        if self._crash is not None:
            self._crash(point)

    # --- one round ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and process one batch; returns how many events were claimed."""
        claimed, views = self._claim_with_views()
        if claimed:
            self.process(claimed, views)
        return len(claimed)

    def claim_batch(self) -> list[ClaimedEvent]:
        return self._claim_with_views()[0]

    def _claim_with_views(self) -> tuple[list[ClaimedEvent], dict[str, _ResidentView]]:
        """Claim a batch and read its residents in the same (short) transaction: one round
        trip fewer per round."""
        views: dict[str, _ResidentView] = {}
        with self.database.write() as session:
            claimed = claim(session, limit=self.batch_size, lease_seconds=self.lease_seconds)
            if claimed:
                views = self._read_views(session, [c.line_user_id for c in claimed])
        if claimed:
            self._checkpoint("claimed")
        return claimed, views

    def process(
        self, claimed: list[ClaimedEvent], views: dict[str, _ResidentView] | None = None
    ) -> None:
        """Run the conversation for claimed events and store every result."""
        if views is None:
            views = self._residents([c.line_user_id for c in claimed])
        now = self._clock()
        outcomes: list[tuple[ClaimedEvent, Outcome | BaseException]] = []
        first = self.webhook_first
        for event in claimed:
            if first is not None and event.priority != 0:
                first.step_aside()
            try:
                outcomes.append((event, self._step(event, views.get(event.line_user_id), now)))
            except Exception as error:
                outcomes.append((event, error))
        self._checkpoint("stepped")
        self._store(outcomes, now)

    def _residents(self, user_ids: list[str]) -> dict[str, _ResidentView]:
        with self.database.read() as session:
            return self._read_views(session, user_ids)

    @staticmethod
    def _read_views(session: Any, user_ids: list[str]) -> dict[str, _ResidentView]:
        # The open urgent case rides along as an EXISTS column: no extra round trip.
        urgent_open = (
            exists()
            .where(
                Handoff.resident_id == Resident.id,
                Handoff.urgency == "crisis",
                Handoff.status.in_(OPEN_HANDOFF_STATUSES),
            )
            .label("urgent_open")
        )
        rows = session.execute(
            select(
                Resident.line_user_id,
                Resident.state,
                Resident.staff_active,
                Resident.following,
                urgent_open,
            ).where(Resident.line_user_id.in_(user_ids))
        ).all()
        return {
            row.line_user_id: _ResidentView(
                row.state or {}, row.staff_active, row.following, bool(row.urgent_open)
            )
            for row in rows
        }

    def _store(
        self, outcomes: list[tuple[ClaimedEvent, Outcome | BaseException]], now: datetime
    ) -> None:
        """Write the round's results. Plain answers (no effects) go in one transaction for
        the batch; every other event (crisis: MarkUrgent, consent, handoff, booking, 削除, a
        failure), crisis first, in a transaction that commits early whenever a webhook
        insert is waiting for the SQLite write lock. Those events take several ORM writes
        each: a batch of them in one transaction held acks back by tens of milliseconds
        (bench/webhook.py with the triage set's messages, 15 % crisis), and a transaction
        per event cost 10 % more CPU. Each event stays atomic with its inbox row (savepoint
        or transaction) either way."""
        plain = [
            (event, result)
            for event, result in outcomes
            if isinstance(result, Outcome) and is_plain(event, result)
        ]
        plain_ids = {event.id for event, _ in plain}
        singles = [item for item in outcomes if item[0].id not in plain_ids]
        singles.sort(key=lambda item: item[0].priority)  # crisis (0) first
        answered: list[tuple[ClaimedEvent, Outcome]] = []
        first_commit = True
        while singles:
            with self.database.write() as session:
                while singles:
                    event, outcome = singles.pop(0)
                    stored = self._store_one(session, event, outcome, now)
                    if stored is not None:
                        answered.append((event, stored))
                    if self.database.ingest_waiting():
                        break  # commit what we have; the webhook's insert goes next
                if first_commit:
                    self._checkpoint("before_commit")
                    first_commit = False
        if plain:
            redo: list[tuple[ClaimedEvent, Outcome]] = []
            with self.database.write() as session:
                try:
                    with session.begin_nested():
                        held = apply_plain_steps(session, plain, now=now)
                except Exception as error:
                    # One bad row must not sink the batch: redo these one by one below.
                    log.warning(
                        "inbox batch of %d redone singly: %s", len(plain), type(error).__name__
                    )
                    redo = plain
                else:
                    for plain_event, plain_outcome in plain:
                        if plain_event.id in held:
                            answered.append((plain_event, plain_outcome))
                        else:
                            self._log_applied(plain_event, plain_outcome, held)
                if first_commit:
                    self._checkpoint("before_commit")
                    first_commit = False
            for event, outcome in redo:
                with self.database.write() as session:
                    stored = self._store_one(session, event, outcome, now)
                if stored is not None:
                    answered.append((event, stored))
        if answered:
            # One line per round (ids and counts only): per-row lines cost at high rates.
            log.info(
                "inbox answered %d: ids=%s replies=%d urgent=%s",
                len(answered),
                ",".join(str(event.id) for event, _ in answered),
                sum(len(outcome.replies) for _, outcome in answered),
                ",".join(str(event.id) for event, outcome in answered if outcome.urgent) or "-",
            )

    def _store_one(
        self, session: Any, event: ClaimedEvent, outcome: Outcome | BaseException, now: datetime
    ) -> Outcome | None:
        """One event's results in the caller's transaction (a savepoint, so a failure can
        still record the retry). Returns the outcome when it was stored."""
        if isinstance(outcome, BaseException):
            self._failed(session, event, outcome)
            return None
        try:
            with session.begin_nested():
                apply_step(session, event, outcome, now=now)
        except LeaseLost:
            self._log_applied(event, outcome, set())
            return None
        except Exception as error:
            self._failed(session, event, error)
            return None
        return outcome

    @staticmethod
    def _log_applied(event: ClaimedEvent, outcome: Outcome, held: set[int]) -> None:
        if event.id not in held:
            log.warning("inbox %d: lease lost, left to the other worker", event.id)

    def _failed(self, session: Any, event: ClaimedEvent, error: BaseException) -> None:
        if event.attempts >= self.max_attempts:
            answered = False
            if give_up(session, event) and event.event_type in ANSWERED_KINDS:
                answered = self._answer_anyway(session, event)
            log.error(
                "inbox %d failed for good after %d attempts: %s (priority %d, fallback %s)",
                event.id,
                event.attempts,
                exception_summary(error),
                event.priority,
                "queued" if answered else "none",
            )
        else:
            delay = min(60.0, 2.0**event.attempts)
            postpone(session, event, delay_seconds=delay)
            log.error(
                "inbox %d failed (attempt %d), retry in %.0fs: %s",
                event.id,
                event.attempts,
                delay,
                exception_summary(error),
            )

    def _answer_anyway(self, session: Any, event: ClaimedEvent) -> bool:
        """A resident who wrote must not be met with silence, even when their event cannot
        be processed: the fallback answer (desk + 24-hour line), in its own savepoint."""
        try:
            with session.begin_nested():
                fallback = self.conversation.fallback(self._clock())
                return answer_after_failure(session, event, fallback)
        except Exception as error:
            log.error("inbox %d: fallback answer failed too: %s", event.id, type(error).__name__)
            return False

    # --- the conversation step ----------------------------------------------------------------

    def _step(self, event: ClaimedEvent, view: _ResidentView | None, now: datetime) -> Outcome:
        stored = view.state if view is not None and event.event_type != "follow" else {}
        context = Context(
            now=now,
            staff_active=bool(view and view.staff_active),
            urgent_case_open=bool(view and view.urgent_case_open),
            booking=DbBookingPort(self.database, now, event.line_user_id),
            analyse=self._analyse,
        )
        conversation_event, inbound_text = to_conversation_event(event)
        result = self.conversation.step(State.from_json(stored), conversation_event, context)
        analysis = result.analysis
        return Outcome(
            state=result.state.to_json(),
            replies=list(result.replies),
            effects=result.effects,
            urgent=result.urgent,
            triage=analysis.to_json() if analysis is not None else None,
            urgency=analysis.urgency if analysis is not None else None,
            inbound_text=inbound_text,
        )

    # --- the loop ------------------------------------------------------------------------------

    def add_answer_listener(self, listener: Callable[[bool], None]) -> None:
        """`listener(urgent)` runs on the event loop after a round stored answers (wakes the
        sender); `urgent` is true when the round answered a crisis event."""
        self._answer_listeners.append(listener)

    def wake(self, count: int = 1, urgent: bool = False) -> None:
        """Called (on the event loop) when `count` new events were stored: skip the poll
        wait. `urgent`: a crisis event is among them, so no gather window either."""
        if self._wake is None or self._urgent is None:
            return
        self._woken_events += count
        self._crisis = self._crisis or urgent
        if urgent or self._woken_events >= self.batch_size:
            self._urgent.set()
        self._wake.set()

    async def _gather(self, stop: asyncio.Event) -> None:
        """Let a few more events arrive before claiming, unless a crisis event (or a full
        batch) is already waiting."""
        if self.gather_seconds <= 0 or self._urgent is None or self._urgent.is_set():
            return
        await _wait_any(stop, self._urgent, self.gather_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Process until `stop` is set; a round in progress finishes first."""
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        woken = False
        while not stop.is_set():
            if woken:
                await self._gather(stop)
            self._wake.clear()
            if not self._crisis:
                self._urgent.clear()
            self._woken_events = 0
            claimed: list[ClaimedEvent] = []
            try:
                claimed, views = await asyncio.to_thread(self._claim_with_views)
                if claimed:
                    loading = asyncio.ensure_future(self._loading_after(claimed))
                    try:
                        await asyncio.to_thread(self.process, claimed, views)
                    finally:
                        loading.cancel()
            except Exception as error:
                log.error("inbox round failed: %s", exception_summary(error))
                if claimed:
                    # Hand the events back soon instead of at the end of the lease.
                    await asyncio.to_thread(self._release, claimed)
                await _wait_any(stop, None, 1.0)
                continue
            if not claimed:
                if not self._wake.is_set():
                    self._crisis = False  # seen empty, and nothing came in since
                    self._urgent.clear()
                await _wait_any(stop, self._wake, self.poll_seconds)
                woken = self._wake.is_set()
                continue
            # More may be waiting: claim again, after a gather window when the last round was
            # not full and nothing urgent arrived meanwhile.
            woken = len(claimed) < self.batch_size
            urgent = any(event.priority == 0 for event in claimed)
            for listener in self._answer_listeners:
                listener(urgent)

    def _release(self, claimed: list[ClaimedEvent]) -> None:
        try:
            with self.database.write() as session:
                for event in claimed:
                    postpone(session, event, delay_seconds=1.0)
        except Exception as error:  # the database is still down: the leases will do it
            log.warning(
                "inbox: could not release %d events: %s", len(claimed), type(error).__name__
            )

    async def _loading_after(self, claimed: list[ClaimedEvent]) -> None:
        """When a round is slow, show LINE's loading animation in those 1:1 chats (never
        for crisis events: their answer must not wait behind anything, animation included)."""
        if self.show_loading is None:
            return
        await asyncio.sleep(self.loading_after_seconds)
        for event in claimed:
            if event.priority == 0 or event.event_type not in ("message", "postback"):
                continue
            try:
                await self.show_loading(event.line_user_id)
            except Exception as error:
                log.warning(
                    "inbox %d: loading animation failed: %s", event.id, type(error).__name__
                )


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter


def to_conversation_event(event: ClaimedEvent) -> tuple[events.Event, str | None]:
    """A LINE webhook event as a conversation event (and the resident's text, if any)."""
    payload = event.payload
    kind = event.event_type
    if kind == "follow":
        return events.Follow(), None
    if kind == "unfollow":
        return events.Unfollow(), None
    if kind == "postback":
        postback = payload.get("postback") or {}
        params = postback.get("params")
        params = dict(params) if isinstance(params, dict) else {}
        return events.Postback(data=str(postback.get("data", "")), params=params), None
    if kind == "message":
        message = payload.get("message") or {}
        message_type = message.get("type")
        if message_type == "text":
            text = str(message.get("text", ""))
            return events.Text(text=text), text
        if message_type in MEDIA_KINDS:
            return events.Media(kind=message_type), None
        if message_type == "location":
            return events.Location(), None
        return events.Other(type=f"message.{message_type}"), None
    if kind == "unsend":
        unsend = payload.get("unsend")
        message_id = unsend.get("messageId") if isinstance(unsend, dict) else None
        if isinstance(message_id, str) and message_id:
            return events.Unsend(message_id=message_id), None
    return events.Other(type=kind), None
