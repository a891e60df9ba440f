"""TESTING.md H6: on SQLite, concurrent webhook, worker, sender and admin-like writes never
see "database is locked" (BEGIN IMMEDIATE + busy_timeout on every pooled connection).
10 s in the normal run; the full 60 s is marked slow (`pytest -m slow`)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select, update

from bot.actions import audit
from bot.db import Database
from bot.models.core import InboxEvent, Resident
from tests.integration.conftest import (
    Service,
    SignedWebhook,
    count,
    new_user_id,
    wait_inbox_settled,
)

pytestmark = pytest.mark.integration


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_contention(service: Service, database: Database, seconds: float) -> None:
    capture = Capture()
    logging.getLogger().addHandler(capture)
    stop = threading.Event()
    statuses: Counter[int | str] = Counter()
    admin_errors: list[str] = []
    admin_writes = 0
    users = [new_user_id() for _ in range(40)]

    def webhook_client() -> None:
        signer = SignedWebhook()
        with httpx.Client(timeout=15) as client:
            while not stop.is_set():
                events = [
                    signer.text("家賃が払えない", user_id=random.choice(users))
                    for _ in range(random.randint(1, 3))
                ]
                body = signer.body(*events)
                try:
                    response = client.post(
                        service.webhook_url, content=body, headers=signer.headers(body)
                    )
                    statuses[response.status_code] += 1
                except httpx.HTTPError as error:
                    statuses[type(error).__name__] += 1

    def admin_writer() -> None:
        nonlocal admin_writes
        while not stop.is_set():
            try:
                with database.write() as session:
                    ids = list(session.scalars(select(Resident.id).limit(5)))
                    if ids:
                        session.execute(
                            update(Resident)
                            .where(Resident.id == random.choice(ids))
                            .values(staff_active=False)
                        )
                    audit.record(session, actor_type="staff", actor_id=1, action="case.view")
                admin_writes += 1
            except Exception as error:
                admin_errors.append(f"{type(error).__name__}: {error}")
            time.sleep(0.005)

    threads = [threading.Thread(target=webhook_client) for _ in range(4)]
    threads += [threading.Thread(target=admin_writer) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        logging.getLogger().removeHandler(capture)
    assert admin_errors == []
    assert set(statuses) == {200}, statuses
    # Floors that prove all three kinds of writer really ran at once (rates are for bench/).
    assert admin_writes >= seconds
    assert wait_inbox_settled(database, timeout=60)
    problems = [
        r.getMessage()
        for r in capture.records
        if r.levelno >= logging.ERROR or "locked" in r.getMessage().lower()
    ]
    assert problems == []
    assert count(database, InboxEvent, InboxEvent.status == "done") >= seconds * 2


@pytest.mark.parametrize(
    "seconds", [10, pytest.param(60, marks=pytest.mark.slow)], ids=["10s", "60s"]
)
def test_h6_concurrent_writers_never_see_database_is_locked(
    start_service: Callable[..., Service],
    database: Database,
    request: pytest.FixtureRequest,
    seconds: int,
) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite locking")
    if seconds == 60 and "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("the 60 s run: pytest -m slow")
    run_contention(start_service(), database, seconds)
