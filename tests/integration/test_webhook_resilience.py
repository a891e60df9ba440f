"""TESTING.md A14 (slow worker, fast webhook) and H3 (database down → 503, then recovery)."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

import bot.db
from bot.db import Database
from bot.models.core import InboxEvent
from bot.worker.inbox import InboxWorker
from tests.integration.conftest import (
    Service,
    SignedWebhook,
    count,
    new_user_id,
    wait_inbox_settled,
    wait_outbox_settled,
    wait_until,
)
from tests.integration.test_worker_inbox import RecordingConversation

pytestmark = pytest.mark.integration


class SlowFirstStep(RecordingConversation):
    """The worker's first step takes `delay` seconds (a stuck triage, a slow database)."""

    def __init__(self, base: Any, delay: float) -> None:
        super().__init__(base)
        self.first_delay = delay
        self.slowed = threading.Event()

    def step(self, state: Any, event: Any, ctx: Any) -> Any:
        if not self.slowed.is_set():
            self.slowed.set()
            time.sleep(self.first_delay)
        return self.base.step(state, event, ctx)


def test_a14_slow_worker_does_not_slow_the_webhook(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
) -> None:
    slow = SlowFirstStep(conversation, delay=10.0)
    worker = InboxWorker(database, conversation=slow, poll_seconds=0.05)
    service = start_service(worker=worker)
    assert service.send(signed_webhook.text("はじめの相談")).status_code == 200
    assert slow.slowed.wait(5)

    events = [signed_webhook.text(f"家賃が払えない {i}") for i in range(50)]

    def post(event: dict[str, Any]) -> float:
        body = signed_webhook.body(event)
        with httpx.Client(timeout=10) as client:
            started = time.perf_counter()
            response = client.post(
                service.webhook_url, content=body, headers=signed_webhook.headers(body)
            )
            elapsed = time.perf_counter() - started
        assert response.status_code == 200
        return elapsed

    with ThreadPoolExecutor(10) as pool:
        latencies = sorted(pool.map(post, events))
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    assert p99 < 1.0, f"p99 {p99:.3f}s, median {statistics.median(latencies):.3f}s"
    # The worker was still stuck while all 50 were acknowledged …
    assert count(database, InboxEvent, InboxEvent.status == "done") == 0
    # … and answers them all once it gets going again.
    assert wait_inbox_settled(database, timeout=40)
    assert count(database, InboxEvent, InboxEvent.status == "done") == 51
    assert wait_until(lambda: len(service.fake.deliveries) == 51, 20)


# --- H3 -------------------------------------------------------------------------------------------


class TcpProxy:
    """A TCP forwarder to PostgreSQL that can be cut (refuses and drops every connection)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def database_outage(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Yields (service database, cut(), restore()). PostgreSQL: the connection goes through a
    proxy that is cut. SQLite: another process holds an exclusive lock on the file longer
    than the busy timeout (shortened here so the test is quick)."""
    if database.is_sqlite:
        monkeypatch.setattr(bot.db, "SQLITE_BUSY_TIMEOUT_MS", 300)
        served = Database.connect(database.url)
        path = database.url.split("///", 1)[1]
        holder: dict[str, sqlite3.Connection] = {}

        def cut() -> None:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN EXCLUSIVE")
            holder["conn"] = conn

        def restore() -> None:
            conn = holder.pop("conn")
            conn.execute("ROLLBACK")
            conn.close()

        yield served, cut, restore
        served.dispose()
        return
    proxy = TcpProxy(5432)
    proxy.up()
    served = Database.connect(database.url.replace(":5432/", f":{proxy.port}/"))
    yield served, proxy.down, proxy.up
    served.dispose()
    proxy.down()


def test_h3_database_down_gives_503_and_redeliveries_are_processed_once_after(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    conversation: Any,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with database_outage(database, monkeypatch) as (served, cut, restore):
        from tests.integration.conftest import make_settings

        worker = InboxWorker(served, conversation=conversation, poll_seconds=0.05, lease_seconds=3)
        service = start_service(worker=worker)
        # The fixture's service uses the fixture database; serve through `served` instead.
        service.stop()
        service = Service(
            make_settings(served.url, service.fake.base_url),
            served,
            service.fake,
            worker=worker,
        ).start()
        try:
            before = signed_webhook.text("家賃が払えない", user_id=new_user_id())
            assert service.send(before).status_code == 200
            cut()
            during = [
                signed_webhook.text(f"仕事がない {i}", user_id=new_user_id()) for i in range(5)
            ]
            statuses = [service.send(event).status_code for event in during]
            assert statuses == [503] * 5
            if not database.is_sqlite:  # a locked SQLite file still reads
                healthz = service.client.get(f"{service.base_url}/healthz")
                assert healthz.status_code == 503
            restore()
            # LINE redelivers what it could not deliver: now stored, answered once.
            for event in during:
                redelivered = dict(event, deliveryContext={"isRedelivery": True})
                assert service.send(redelivered).status_code == 200
                assert service.send(redelivered).status_code == 200
            assert wait_inbox_settled(database, timeout=30)
            assert count(database, InboxEvent) == 6
            assert wait_until(lambda: len(service.fake.deliveries) == 6, 20)
            assert wait_outbox_settled(database)  # nothing left that could go out again
            users = [d.user_id for d in service.fake.deliveries]
            assert len(users) == len(set(users)) == 6
        finally:
            service.stop()
