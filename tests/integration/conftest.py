"""Shared helpers for integration tests: signed LINE webhook bodies, the service running
under uvicorn on 127.0.0.1 (real HTTP) against the fake LINE server, and waiting helpers.

    def test_x(service, signed_webhook):
        event = signed_webhook.text("こんにちは")
        assert service.send(event).status_code == 200
        assert service.fake.wait_for_messages(event["source"]["userId"])
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from bot.app import create_app
from bot.db import Database
from bot.fakeline import FakeLine
from bot.models.core import InboxEvent, Outbox
from bot.settings import Settings
from bot.webhook import sign
from bot.worker.inbox import InboxWorker

CHANNEL_SECRET = "test-channel-secret-0123456789ab"
ACCESS_TOKEN = "test-access-token-SENTINEL-9f8e7d"


def new_user_id() -> str:
    return "U" + uuid.uuid4().hex


class SignedWebhook:
    """Builds LINE webhook events and bodies, signed like LINE signs them."""

    secret = CHANNEL_SECRET

    def event(
        self,
        type: str = "message",
        *,
        user_id: str | None = None,
        message: dict[str, Any] | None = None,
        postback: dict[str, Any] | None = None,
        event_id: str | None = None,
        timestamp_ms: int | None = None,
        reply_token: str | None = "auto",
        mode: str = "active",
        redelivery: bool = False,
        source_type: str = "user",
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": type,
            "mode": mode,
            "timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "source": {"type": source_type, "userId": user_id or new_user_id()},
            "webhookEventId": event_id or ("01" + uuid.uuid4().hex.upper())[:26],
            "deliveryContext": {"isRedelivery": redelivery},
        }
        if reply_token == "auto":
            reply_token = uuid.uuid4().hex
        if reply_token is not None and type not in ("unfollow",):
            event["replyToken"] = reply_token
        if message is not None:
            event["message"] = message
        if postback is not None:
            event["postback"] = postback
        return event

    def text(self, text: str, **kwargs: Any) -> dict[str, Any]:
        message = {"id": str(uuid.uuid4().int)[:18], "type": "text", "text": text}
        message["quoteToken"] = uuid.uuid4().hex
        return self.event("message", message=message, **kwargs)

    def media(self, kind: str, **kwargs: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"id": str(uuid.uuid4().int)[:18], "type": kind}
        if kind == "sticker":
            message.update(packageId="446", stickerId="1988", stickerResourceType="STATIC")
        elif kind in ("image", "video", "audio", "file"):
            message["contentProvider"] = {"type": "line"}
        if kind == "file":
            message.update(fileName="a.pdf", fileSize=1234)
        return self.event("message", message=message, **kwargs)

    def follow(self, **kwargs: Any) -> dict[str, Any]:
        return self.event("follow", **kwargs)

    def unfollow(self, **kwargs: Any) -> dict[str, Any]:
        return self.event("unfollow", reply_token=None, **kwargs)

    def postback(self, data: str, **kwargs: Any) -> dict[str, Any]:
        return self.event("postback", postback={"data": data}, **kwargs)

    def body(self, *events: dict[str, Any], destination: str = "U" + "d" * 32) -> bytes:
        document = {"destination": destination, "events": list(events)}
        return json.dumps(document, ensure_ascii=False).encode()

    def headers(self, body: bytes, secret: str | None = None) -> dict[str, str]:
        return {
            "content-type": "application/json; charset=utf-8",
            "x-line-signature": sign(secret or self.secret, body),
        }


@pytest.fixture
def signed_webhook() -> SignedWebhook:
    return SignedWebhook()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(database_url: str, line_base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": line_base_url,
        "LINE_TIMEOUT_SECONDS": 2.0,
        "MARUGOTO_WORKER_POLL_SECONDS": 0.05,
        "MARUGOTO_ENV": "development",
    }
    values.update(overrides)
    return Settings(**values)


def register_reply_tokens(fake: FakeLine, body: bytes) -> None:
    """Tell the fake LINE whose reply tokens these are (LINE knows; a fake must be told), so
    replies show up in `fake.messages_to(user_id)`. Bodies that are not JSON are skipped."""
    try:
        events = json.loads(body).get("events") or []
    except (ValueError, AttributeError, RecursionError):
        return
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        token, source = event.get("replyToken"), event.get("source")
        user_id = source.get("userId") if isinstance(source, dict) else None
        if isinstance(token, str) and isinstance(user_id, str):
            fake.register_reply_token(token, user_id)


@dataclass
class Service:
    """The app served by uvicorn in a thread on 127.0.0.1, like `marugoto serve`."""

    settings: Settings
    database: Database
    fake: FakeLine
    role: str = "all"
    worker: InboxWorker | None = None
    port: int = field(default_factory=free_port)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/line/webhook"

    def start(self) -> Service:
        app = create_app(
            self.settings,
            database=self.database,
            role=self.role,  # type: ignore[arg-type]
            migrate=False,
            inbox_worker=self.worker,
        )
        self.app = app
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="service")
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("service did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.client.close()

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        register_reply_tokens(self.fake, body)
        return self.client.post(self.webhook_url, content=body, headers=headers)

    def send(self, *events: dict[str, Any]) -> httpx.Response:
        signer = SignedWebhook()
        body = signer.body(*events)
        return self.post(body, signer.headers(body))


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    with FakeLine() as fake:
        yield fake


@pytest.fixture
def start_service(
    database: Database, fake_line: FakeLine, conversation: Any
) -> Iterator[Callable[..., Service]]:
    """`start_service(role=..., worker=..., **settings)` → a running Service."""
    started: list[Service] = []

    def start(*, role: str = "all", worker: InboxWorker | None = None, **overrides: Any) -> Service:
        settings = make_settings(database.url, fake_line.base_url, **overrides)
        if worker is None and role in ("all", "worker"):
            worker = InboxWorker(
                database,
                conversation=conversation,
                lease_seconds=settings.inbox_lease_seconds,
                batch_size=settings.inbox_batch_size,
                poll_seconds=settings.worker_poll_seconds,
            )
        service = Service(settings, database, fake_line, role=role, worker=worker).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def service(start_service: Callable[..., Service]) -> Service:
    return start_service()


# --- reading the database -----------------------------------------------------------------------


def count(database: Database, model: Any, *where: Any) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def inbox_rows(database: Database) -> list[InboxEvent]:
    with database.read() as session:
        rows = list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
        session.expunge_all()
        return rows


def outbox_rows(database: Database) -> list[Outbox]:
    with database.read() as session:
        rows = list(session.scalars(select(Outbox).order_by(Outbox.id)))
        session.expunge_all()
        return rows


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def wait_outbox_settled(database: Database, timeout: float = 15.0) -> bool:
    """True once no outbox row is pending or sending: whatever could go out has gone out
    (or is dead or cancelled), so nothing more arrives at the fake LINE."""
    return wait_until(
        lambda: count(database, Outbox, Outbox.status.in_(("pending", "sending"))) == 0,
        timeout,
    )


def wait_worker_round(service: Service, signer: SignedWebhook, timeout: float = 30.0) -> str:
    """A signal that the worker and the sender have run past every event stored so far: a
    new user's worry, sent now, is answered (claims take older events first). Returns that
    user's id. Lets a test say "never answered" without sleeping and hoping."""
    sentinel = signer.text("家賃が払えない")
    user: str = sentinel["source"]["userId"]
    assert service.send(sentinel).status_code == 200
    assert service.fake.wait_for_messages(user, 1, timeout=timeout), "no worker round"
    return user


def wait_inbox_settled(database: Database, timeout: float = 15.0) -> bool:
    """True once no inbox row is pending or claimed."""
    return wait_until(
        lambda: count(database, InboxEvent, InboxEvent.status.in_(("pending", "claimed"))) == 0,
        timeout,
    )


# --- the conversation --------------------------------------------------------------------------


@pytest.fixture
def conversation() -> Any:
    """The conversation the worker runs (tests wrap it to slow it down or make it fail)."""
    import bot.conversation

    return bot.conversation
