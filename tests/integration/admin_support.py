"""Shared helpers for the staff-UI tests: the real app served by uvicorn on 127.0.0.1 (real
HTTP, lifespan included) on the `database` fixture's real SQLite / PostgreSQL, driven with
httpx.

Production settings mark the session cookie Secure; a Secure cookie is not sent over plain
http by a browser or by httpx's cookie jar, so `StaffClient` carries the cookie by hand
(the flags themselves are asserted on the Set-Cookie header, and the browser behaviour is
covered by the e2e tests)."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from bot.actions import staff as staff_actions
from bot.app import create_app
from bot.db import Database
from bot.models.core import AuditLog, Handoff, Message, Resident
from bot.settings import Settings
from tests.integration.conftest import free_port

PASSWORD = "correct horse battery staple 7"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_settings(database: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database.url,
        "environment": "production",
        "secret_key": "test-secret-" + secrets.token_hex(8),
    }
    values.update(overrides)
    return Settings(**values)


class WebServer:
    """The app (role web: pages and webhook, no worker) under uvicorn in a thread."""

    def __init__(self, database: Database, **overrides: Any) -> None:
        self.settings = make_settings(database, **overrides)
        self.app = create_app(self.settings, database=database, role="web", migrate=False)
        self.port = free_port()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="admin-web")
        self.clients: list[StaffClient] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("web server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def client(self) -> StaffClient:
        """A new browser-like client (closed when the server stops)."""
        client = StaffClient(self.base_url, self.cookie_name)
        self.clients.append(client)
        return client

    @property
    def cookie_name(self) -> str:
        return "marugoto_staff" if self.settings.environment == "development" else COOKIE

    @property
    def ctx(self) -> Any:
        return self.app.state.admin


COOKIE = "__Host-marugoto_staff"


class StaffClient:
    """httpx against the server, holding the staff cookie like a browser over https would."""

    def __init__(self, base_url: str, cookie_name: str = COOKIE) -> None:
        self.base_url = base_url
        self.cookie_name = cookie_name
        self.cookie: str | None = None
        self.http = httpx.Client(base_url=base_url, timeout=20, follow_redirects=False)

    @property
    def origin(self) -> dict[str, str]:
        return {"origin": self.base_url}

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.cookie is not None:
            out["cookie"] = f"{self.cookie_name}={self.cookie}"
        return out

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == self.cookie_name:
                value = rest.split(";", 1)[0].strip().strip('"')
                self.cookie = value or None
                if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                    self.cookie = None
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = self._headers(kwargs.pop("headers", None))
        return self._keep(self.http.get(path, headers=headers, **kwargs))

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = self._headers(kwargs.pop("headers", None))
        return self._keep(self.http.post(path, headers=headers, **kwargs))

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def web(database: Database) -> Iterator[WebServer]:
    server = WebServer(database).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def staff_client(web: WebServer) -> StaffClient:
    return web.client()


def make_user(
    database: Database, username: str, role: str = "staff", password: str = PASSWORD
) -> int:
    with database.write() as session:
        user = staff_actions.create_user(
            session, username=username, password=password, role=role, actor_type="system"
        )
        return user.id


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: StaffClient, username: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/admin/login")
    token = csrf_of(page.text)
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=client.origin,
    )


def logged_in(client: StaffClient, username: str) -> str:
    """Log in and return the page CSRF token for state changes."""
    response = login(client, username)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/admin/").text)


def make_case(
    database: Database,
    *,
    text: str = "家賃が払えなくて困っています",
    consented: bool = True,
    urgency: str = "normal",
    status: str = "new",
    assigned_to: int | None = None,
    windows: list[str] | None = None,
    reporter: str = "self",
    created_at: datetime | None = None,
    contact_time: str | None = None,
) -> int:
    now = created_at or datetime.now(UTC)
    windows = windows if windows is not None else ["housing_benefit"]
    with database.write() as session:
        resident = Resident(
            line_user_id="U" + secrets.token_hex(16),
            following=True,
            state={},
            consent_version="1" if consented else None,
            consent_given_at=now if consented else None,
            staff_active=False,
            created_at=now,
        )
        session.add(resident)
        session.flush()
        triage = {
            "windows": [{"id": w, "score": 0.9} for w in windows],
            "urgency": urgency,
            "reporter": reporter,
            "clarify": False,
            "evidence": [
                {"window": windows[0] if windows else "general_desk", "term": "家賃",
                 "matched": text[:10], "weight": 1.0, "via": "lemma"}
            ],
        }  # fmt: skip
        session.add(
            Message(
                resident_id=resident.id,
                direction="in",
                text=text,
                triage=triage,
                urgency=urgency,
                created_at=now,
            )
        )
        handoff = Handoff(
            resident_id=resident.id,
            status=status,
            urgency=urgency,
            reporter=reporter,
            windows=windows,
            summary=triage,
            consented=consented,
            consent_version="1" if consented else None,
            consent_given_at=now if consented else None,
            assigned_to=assigned_to,
            contact_method="line",
            contact_time=contact_time,
            created_at=now,
            updated_at=now,
        )
        session.add(handoff)
        session.flush()
        return handoff.id


def audit_count(database: Database, action: str) -> int:
    with database.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == action)
            )
            or 0
        )


def audit_rows(database: Database, action: str | None = None) -> list[AuditLog]:
    with database.read() as session:
        query = select(AuditLog).order_by(AuditLog.id)
        if action is not None:
            query = query.where(AuditLog.action == action)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def get_handoff(database: Database, handoff_id: int) -> Handoff:
    with database.read() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None
        session.expunge_all()
        return handoff


def shift(ctx: Any, delta: timedelta) -> None:
    """Move the admin's clock forward (timeouts)."""
    base = ctx.clock

    def later() -> datetime:
        moved: datetime = base() + delta
        return moved

    ctx.clock = later
