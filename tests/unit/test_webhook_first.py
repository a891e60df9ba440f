"""bot.webhook_first: background work pauses for a webhook burst, briefly, never longer.

The pauses are measured on a fake clock that only the code under test advances (its sleeps
move it): the bounds are checked exactly, and a busy machine cannot make them fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot import webhook_first
from bot.webhook_first import WebhookFirst


class FakeClock:
    """Stands in for the module's `time`: sleep() advances now; `on_sleep` may act (a
    request finishing) after a number of sleeps."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 1000.0
        self.slept = 0.0
        self.sleeps = 0
        #: Each look at the clock moves it by this much (code that never yields still ends).
        self.tick = tick
        self.on_sleep: Callable[[int], None] | None = None

    def monotonic(self) -> float:
        self.now += self.tick
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        self.slept += seconds
        if self.on_sleep is not None:
            self.on_sleep(self.sleeps)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(webhook_first, "time", fake)
    return fake


def test_no_pause_below_the_burst_threshold(clock: FakeClock) -> None:
    first = WebhookFirst(busy_at=3, max_pause_seconds=0.5)
    first.enter()
    first.enter()
    started = clock.now
    first.step_aside()
    assert clock.now - started < 0.05
    assert clock.sleeps == 0


def test_a_burst_pauses_up_to_the_bound_and_ends_early_when_it_drains(clock: FakeClock) -> None:
    first = WebhookFirst(busy_at=2, max_pause_seconds=0.3)
    first.enter()
    first.enter()
    started = clock.now
    first.step_aside()  # nobody leaves: waits the whole bound, then goes ahead anyway
    assert 0.25 <= clock.now - started < 1.0
    assert first.inflight == 2

    sleeps_before = clock.sleeps
    clock.on_sleep = lambda n: first.leave() if n == sleeps_before + 250 else None
    started = clock.now
    first.step_aside()  # one request finishes: below the threshold, back to work
    assert clock.now - started < 0.25
    assert first.inflight == 1 and clock.sleeps == sleeps_before + 250


def test_the_async_pause_lets_the_loop_run_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each look at the clock moves it 1 ms: a pause that kept the loop from running the
    # request would end at the bound with the request still in flight.
    clock = FakeClock(tick=0.001)
    monkeypatch.setattr(webhook_first, "time", clock)

    async def scenario() -> tuple[float, int]:
        first = WebhookFirst(busy_at=1, max_pause_seconds=0.5)
        first.enter()

        async def request() -> None:
            for _ in range(20):  # a request that needs the loop a few times
                await asyncio.sleep(0)
            first.leave()

        task = asyncio.create_task(request())
        started = clock.now
        await first.step_aside_async()
        in_flight = first.inflight
        await task
        return clock.now - started, in_flight

    elapsed, in_flight = asyncio.run(scenario())
    assert in_flight == 0  # it ended because the request finished …
    assert elapsed < 0.3  # … well before the bound
