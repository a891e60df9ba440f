"""Issue 11 item 6: the idle timeout counts what a person does, not the queue's background
poll; a locked account and an unknown one get the same login answer. Real HTTP, SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.models.staff import StaffSession, StaffUser
from tests.integration.admin_support import (
    PASSWORD,
    StaffClient,
    WebServer,
    audit_rows,
    csrf_of,
    logged_in,
    login,
    make_user,
    shift,
    staff_client,
    web,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_client", "web"]

POLL = {"hx-request": "true", "hx-trigger": "queue-live"}


def _last_seen(database: Database) -> list[object]:
    with database.read() as session:
        return list(session.scalars(select(StaffSession.last_seen_at)))


def test_background_poll_does_not_keep_an_idle_desk_signed_in(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    logged_in(staff_client, "hanako")
    idle = web.ctx.policy.idle_timeout
    before = _last_seen(database)
    # The tab polls every 10 s for most of the idle period: each answer is 200 …
    for _ in range(3):
        shift(web.ctx, (idle - timedelta(minutes=2)) / 3)
        assert staff_client.get("/admin/queue/rows", headers=POLL).status_code == 200
    # … but none of them moved the session's last activity.
    assert _last_seen(database) == before
    shift(web.ctx, timedelta(minutes=3))
    polled = staff_client.get("/admin/queue/rows", headers=POLL)
    assert polled.status_code == 401 and "/admin/login" in polled.headers["hx-redirect"]
    assert staff_client.get("/admin/").status_code == 303


def test_what_the_person_does_still_counts(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    logged_in(staff_client, "hanako")
    idle = web.ctx.policy.idle_timeout
    shift(web.ctx, idle - timedelta(minutes=1))
    assert staff_client.get("/admin/").status_code == 200  # opening a page is activity
    shift(web.ctx, idle - timedelta(minutes=1))
    # A canned phrase fetched by htmx on a click is something the person did.
    clicked = {"hx-request": "true", "hx-trigger-name": ""}
    assert staff_client.get("/admin/canned/first_contact", headers=clicked).status_code == 200
    shift(web.ctx, idle - timedelta(minutes=1))
    assert staff_client.get("/admin/queue/rows", headers=POLL).status_code == 200
    assert staff_client.get("/admin/").status_code == 200


def _strip(html: str) -> str:
    return html.replace(csrf_of(html), "")


def test_locked_and_unknown_accounts_get_the_same_answer(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    policy = web.ctx.policy
    for _ in range(policy.max_failures_per_account):
        assert login(staff_client, "hanako", "wrong password 123").status_code == 401
    # hanako is locked now: even the right password is refused.
    other = web.client()  # another address would be the same; a fresh client, same page
    locked = login(other, "hanako", PASSWORD)
    unknown = login(web.client(), "nobody-here", "wrong password 123")
    unknown_right_shape = login(web.client(), "nobody-here-2", PASSWORD)
    assert audit_rows(database, "login.fail")[-3].detail == {"reason": "locked"}
    assert locked.status_code == unknown.status_code == unknown_right_shape.status_code == 401
    assert _strip(locked.text) == _strip(unknown.text) == _strip(unknown_right_shape.text)
    assert locked.headers.get("content-type") == unknown.headers.get("content-type")
    assert "ログイン" in locked.text
    # A disabled account, even with its right password, answers the same way too.
    jiro = make_user(database, "jiro")
    with database.write() as session:
        session.get_one(StaffUser, jiro).disabled = True
    disabled = login(web.client(), "jiro", PASSWORD)
    assert disabled.status_code == 401 and _strip(disabled.text) == _strip(unknown.text)
