"""TESTING.md H5 (SIGTERM under load) and a real kill -9, against `marugoto serve` in a
subprocess: acknowledged events are never lost, in-flight requests finish, and after a
restart every acknowledged event is answered exactly once. Also E6 for the process's log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db import Database
from bot.fakeline import FakeLine
from bot.models.core import InboxEvent, Outbox
from tests.integration.conftest import (
    ACCESS_TOKEN,
    CHANNEL_SECRET,
    Service,
    SignedWebhook,
    free_port,
    new_user_id,
    wait_inbox_settled,
    wait_until,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]

SENTINEL = "ZQX-SHUTDOWN-SENTINEL"
ADMIN_PASSWORD = "pw-SENTINEL-correct-horse-battery"


def serve(database: Database, fake: FakeLine, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        DATABASE_URL=database.url,
        LINE_CHANNEL_SECRET=CHANNEL_SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN,
        LINE_API_BASE_URL=fake.base_url,
        MARUGOTO_ENV="development",
        MARUGOTO_INBOX_LEASE_SECONDS="2",
        MARUGOTO_SHUTDOWN_GRACE_SECONDS="5",
        MARUGOTO_WORKER_POLL_SECONDS="0.05",
        MARUGOTO_ADMIN_USERNAME="admin",
        MARUGOTO_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"marugoto serve exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("marugoto serve did not start")


def load(
    port: int, fake: FakeLine, stop: threading.Event, outcomes: list[tuple[str, str, Any]]
) -> None:
    """One client sending signed events (a new user each) until told to stop."""
    signer = SignedWebhook()
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            user = new_user_id()
            event = signer.text(f"家賃が払えない {SENTINEL}", user_id=user)
            fake.register_reply_token(event["replyToken"], user)
            body = signer.body(event)
            try:
                response = client.post(
                    f"http://127.0.0.1:{port}/line/webhook",
                    content=body,
                    headers=signer.headers(body),
                )
                outcomes.append((event["webhookEventId"], user, response.status_code))
            except httpx.HTTPError as error:
                outcomes.append((event["webhookEventId"], user, type(error).__name__))
                time.sleep(0.05)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_h5_stop_under_load_loses_nothing_and_answers_once(
    start_service: Callable[..., Service],
    database: Database,
    fake_line: FakeLine,
    tmp_path: Path,
    how: signal.Signals,
) -> None:
    log = tmp_path / "serve.log"
    port = free_port()
    process = serve(database, fake_line, port, log)
    outcomes: list[tuple[str, str, Any]] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=load, args=(port, fake_line, stop, outcomes)) for _ in range(6)
    ]
    try:
        for client in clients:
            client.start()
        # Under load, not after a while: stop it once enough events have been acknowledged.
        assert wait_until(lambda: sum(1 for *_, status in outcomes if status == 200) > 30, 60)
        process.send_signal(how)
        process.wait(timeout=30)
    finally:
        stop.set()
        for client in clients:
            client.join()
        if process.poll() is None:
            process.kill()
    if how == signal.SIGTERM:
        # uvicorn re-raises the signal after its graceful shutdown: -15 after a clean stop.
        assert process.returncode in (0, -signal.SIGTERM)
        assert "marugoto stopped" in log.read_text()
    acknowledged = {event_id: user for event_id, user, status in outcomes if status == 200}
    statuses = Counter(status for _, _, status in outcomes)
    assert len(acknowledged) > 20, statuses
    # Refused connections are fine (LINE redelivers); an error answer is not.
    assert not [s for s in statuses if isinstance(s, int) and s != 200], statuses

    # Everything acknowledged was committed before its 200.
    with database.read() as session:
        stored = set(session.scalars(select(InboxEvent.webhook_event_id)))
    assert set(acknowledged) <= stored

    # A restarted service finishes the rest; leases make interrupted work reclaimable.
    start_service()
    assert wait_inbox_settled(database, timeout=60)
    with database.read() as session:
        answers = Counter(
            key.removeprefix("answer:") for key in session.scalars(select(Outbox.dedupe_key))
        )
        inbox_status = Counter(session.scalars(select(InboxEvent.status)))
    assert set(inbox_status) == {"done"}
    assert all(answers[event_id] == 1 for event_id in stored)
    delivered = Counter(d.user_id for d in fake_line.deliveries)
    assert max(delivered.values()) == 1  # never twice
    if how == signal.SIGTERM:
        # Nothing was cut short, so everything has arrived (no lease to wait out).
        assert wait_until(lambda: len(fake_line.deliveries) >= len(stored), 30)

    # E6: the process's whole log holds no text, token, secret or password.
    text = log.read_text(errors="replace")
    assert "marugoto started" in text
    for secret in (SENTINEL, ACCESS_TOKEN, CHANNEL_SECRET, ADMIN_PASSWORD, "家賃"):
        assert secret not in text
