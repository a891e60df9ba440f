"""bot.webhook_first: background work pauses for a webhook burst, briefly, never longer."""

from __future__ import annotations

import asyncio
import threading
import time

from bot.webhook_first import WebhookFirst


def test_no_pause_below_the_burst_threshold() -> None:
    first = WebhookFirst(busy_at=3, max_pause_seconds=0.5)
    first.enter()
    first.enter()
    started = time.monotonic()
    first.step_aside()
    assert time.monotonic() - started < 0.05


def test_a_burst_pauses_up_to_the_bound_and_ends_early_when_it_drains() -> None:
    first = WebhookFirst(busy_at=2, max_pause_seconds=0.3)
    first.enter()
    first.enter()
    started = time.monotonic()
    first.step_aside()  # nobody leaves: waits the whole bound, then goes ahead anyway
    assert 0.25 <= time.monotonic() - started < 1.0

    threading.Timer(0.05, first.leave).start()
    started = time.monotonic()
    first.step_aside()  # one request finishes: below the threshold, back to work
    assert time.monotonic() - started < 0.25


def test_the_async_pause_lets_the_loop_run_the_requests() -> None:
    async def scenario() -> float:
        first = WebhookFirst(busy_at=1, max_pause_seconds=0.5)
        first.enter()

        async def request() -> None:
            await asyncio.sleep(0.02)
            first.leave()

        task = asyncio.create_task(request())
        started = time.monotonic()
        await first.step_aside_async()
        await task
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.3
