"""Webhook first: background work steps aside while LINE waits for an acknowledgement.

With `--role all` the webhook, the inbox worker and the sender share one interpreter, and so
one interpreter lock: a worker thread busy with triage, or a sender round, delays the event
loop that answers LINE's requests. LINE needs its 200 quickly (it redelivers, and counts
failures, when it waits); the answer itself may follow a few seconds later. So while
webhook requests are in flight, the worker and the sender pause for a bounded moment
between units of work (never inside a database transaction, never for a crisis event), and
the event loop gets the interpreter. The bound keeps them moving under a sustained flood.

bench/webhook.py (one process, 16 clients): ack p99 fell from 160–200 ms to 35–85 ms with
end-to-end throughput unchanged within the machine's run-to-run noise.
"""

from __future__ import annotations

import asyncio
import time


class WebhookFirst:
    """Counts webhook requests in flight; lets background work wait for them, briefly."""

    def __init__(self, *, busy_at: int = 8, max_pause_seconds: float = 0.002) -> None:
        #: Step aside only when this many requests are in flight: a burst, not LINE's usual
        #: trickle (pausing for one request wasted more than it saved: bench/webhook.py).
        self.busy_at = busy_at
        #: Longest a unit of background work waits before going ahead anyway.
        self.max_pause_seconds = max_pause_seconds
        self.inflight = 0

    def enter(self) -> None:
        """A webhook request started (called on the event loop)."""
        self.inflight += 1

    def leave(self) -> None:
        self.inflight -= 1

    def step_aside(self) -> None:
        """From a worker thread: sleep (the interpreter lock is released) while the webhook
        is busy, up to `max_pause_seconds`."""
        if self.inflight < self.busy_at:
            return
        deadline = time.monotonic() + self.max_pause_seconds
        while self.inflight >= self.busy_at and time.monotonic() < deadline:
            time.sleep(0.0002)

    async def step_aside_async(self) -> None:
        """On the event loop: let queued webhook requests run first, up to the bound."""
        if self.inflight < self.busy_at:
            return
        deadline = time.monotonic() + self.max_pause_seconds
        while self.inflight >= self.busy_at and time.monotonic() < deadline:
            await asyncio.sleep(0)
