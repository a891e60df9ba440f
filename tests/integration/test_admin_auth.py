"""TESTING.md D: staff authentication, over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from bot.actions import staff as staff_actions
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
    make_settings,
    make_user,
    shift,
    staff_client,
    web,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_client", "web"]


def test_d1_session_id_changes_on_login_and_pre_login_id_is_dead(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    staff_client.get("/admin/login")
    before = staff_client.cookie
    assert before
    assert login(staff_client, "hanako").status_code == 303
    after = staff_client.cookie
    assert after and after != before
    assert staff_client.get("/admin/").status_code == 200
    # A browser still holding (or planted with) the pre-login id is not signed in.
    other = web.client()
    other.cookie = before
    response = other.get("/admin/")
    assert response.status_code == 303 and "/admin/login" in response.headers["location"]
    # Only a hash of the session token is stored, never the token.
    with database.read() as session:
        ids = list(session.scalars(select(StaffSession.id)))
    assert after not in ids and staff_actions.session_id_for(after) in ids


def test_d2_cookie_flags_in_production(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    response = login(staff_client, "hanako")
    cookie = response.headers["set-cookie"]
    attrs = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("__Host-marugoto_staff=")
    assert "httponly" in attrs and "secure" in attrs and "samesite=lax" in attrs
    assert not any(a.startswith("domain") for a in attrs)
    assert "path=/" in attrs


def test_d2_cookie_not_secure_only_in_development(database: Database) -> None:
    server = WebServer(database, environment="development").start()
    try:
        make_user(database, "hanako")
        client = server.client()
        response = login(client, "hanako")
        cookie = response.headers["set-cookie"].lower()
        assert response.status_code == 303
        assert cookie.startswith("marugoto_staff=")
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert "secure" not in cookie and "domain" not in cookie
        client.close()
    finally:
        server.stop()


def test_d3_logout_kills_session_server_side(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    token = logged_in(staff_client, "hanako")
    stolen = staff_client.cookie
    response = staff_client.post(
        "/admin/logout", data={"csrf_token": token}, headers=staff_client.origin
    )
    assert response.status_code == 303
    assert staff_client.cookie is None  # the browser is told to forget it
    replay = web.client()
    replay.cookie = stolen  # … and a copy of it is worthless
    assert replay.get("/admin/").status_code == 303
    with database.read() as session:
        assert all(s.revoked for s in session.scalars(select(StaffSession)))
    assert len(audit_rows(database, "logout")) == 1


def test_d3_idle_timeout(web: WebServer, staff_client: StaffClient, database: Database) -> None:
    make_user(database, "hanako")
    logged_in(staff_client, "hanako")
    idle = web.ctx.policy.idle_timeout
    shift(web.ctx, idle - timedelta(minutes=1))
    assert staff_client.get("/admin/").status_code == 200  # activity resets the idle clock
    shift(web.ctx, idle - timedelta(minutes=1))
    assert staff_client.get("/admin/").status_code == 200
    shift(web.ctx, idle + timedelta(seconds=1))
    response = staff_client.get("/admin/")
    assert response.status_code == 303 and "/admin/login" in response.headers["location"]


def test_d3_absolute_timeout_even_when_active(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    logged_in(staff_client, "hanako")
    policy = web.ctx.policy
    step = policy.idle_timeout - timedelta(minutes=5)
    elapsed = timedelta(0)
    while elapsed + step < policy.absolute_timeout:
        shift(web.ctx, step)
        elapsed += step
        assert staff_client.get("/admin/").status_code == 200
    shift(web.ctx, step)
    assert staff_client.get("/admin/").status_code == 303


def _fail(client: StaffClient, username: str, times: int) -> None:
    for _ in range(times):
        assert login(client, username, "wrong password 123").status_code == 401


def test_d4_lockout_per_account_right_password_fails(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    policy = web.ctx.policy
    _fail(staff_client, "hanako", policy.max_failures_per_account)
    assert login(staff_client, "hanako").status_code == 401  # right password, locked
    assert audit_rows(database, "login.fail")[-1].detail == {"reason": "locked"}
    assert staff_client.get("/admin/").status_code == 303
    # After the window the right password works again.
    shift(web.ctx, policy.failure_window + timedelta(seconds=1))
    assert login(staff_client, "hanako").status_code == 303
    assert len(audit_rows(database, "login.ok")) == 1


def test_d4_answer_does_not_reveal_whether_account_exists(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    existing = login(staff_client, "hanako", "wrong password 123")
    missing = login(staff_client, "nobody-here", "wrong password 123")
    assert existing.status_code == missing.status_code == 401

    def strip(html: str) -> str:
        return html.replace(csrf_of(html), "")

    assert strip(existing.text) == strip(missing.text)
    # Lockout behaves the same for names that do not exist.
    policy = web.ctx.policy
    _fail(staff_client, "nobody-here", policy.max_failures_per_account)
    _fail(staff_client, "hanako", policy.max_failures_per_account - 1)
    a = login(staff_client, "nobody-here", "wrong password 123")
    b = login(staff_client, "hanako")
    assert a.status_code == b.status_code == 401
    assert strip(a.text) == strip(b.text)


def test_d4_throttling_per_address(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    policy = web.ctx.policy
    per_name = policy.max_failures_per_account - 1  # never locks any single name
    failures, i = 0, 0
    while failures < policy.max_failures_per_address:
        n = min(per_name, policy.max_failures_per_address - failures)
        _fail(staff_client, f"spray{i}", n)
        failures, i = failures + n, i + 1
    # hanako never failed, but this address is throttled.
    assert login(staff_client, "hanako").status_code == 401
    assert audit_rows(database, "login.fail")[-1].detail == {"reason": "locked"}


def test_d5_argon2id_and_password_policy(database: Database) -> None:
    user_id = make_user(database, "hanako")
    with database.read() as session:
        user = session.get(StaffUser, user_id)
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PasswordHasher().verify(user.password_hash, PASSWORD)
    for weak, reason in [
        ("short1!", "too_short"),
        ("password1234", "common"),
        ("Password123!", "common"),
        ("qwertyuiop12", "common"),
        ("passwordpassword", "common"),
        ("aaaaaaaaaaaaaaaa", "repetitive"),
        ("hanako-is-great-2026", "contains_username"),
    ]:
        with pytest.raises(staff_actions.PasswordRejected) as error:
            staff_actions.check_password_policy(weak, "hanako")
        assert error.value.reason == reason, weak
    staff_actions.check_password_policy(PASSWORD, "hanako")
    with database.write() as session, pytest.raises(staff_actions.PasswordRejected):
        staff_actions.create_user(session, username="taro", password="password", role="staff")


def test_d5_admin_ui_refuses_weak_password(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "root", role="admin")
    token = logged_in(staff_client, "root")
    response = staff_client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "taro", "password": "12345678", "role": "staff"},
        headers=staff_client.origin,
    )
    assert response.status_code == 400 and "12文字以上" in response.text
    with database.read() as session:
        assert session.scalar(select(StaffUser).where(StaffUser.username == "taro")) is None


def test_d7_disabled_account_stops_at_once(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "root", role="admin")
    target = make_user(database, "hanako")
    victim = web.client()
    logged_in(victim, "hanako")
    assert victim.get("/admin/").status_code == 200
    token = logged_in(staff_client, "root")
    response = staff_client.post(
        f"/admin/users/{target}/disabled",
        data={"csrf_token": token, "disabled": "1"},
        headers=staff_client.origin,
    )
    assert response.status_code == 303
    assert victim.get("/admin/").status_code == 303
    assert login(victim, "hanako").status_code == 401
    assert len(audit_rows(database, "account.disable")) == 1


def test_d7_disabled_flag_alone_stops_sessions(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    user_id = make_user(database, "hanako")
    logged_in(staff_client, "hanako")
    with database.write() as session:
        user = session.get(StaffUser, user_id)
        assert user is not None
        user.disabled = True  # e.g. set by an operator directly in the database
    assert staff_client.get("/admin/").status_code == 303


def test_first_admin_from_environment(database: Database) -> None:
    from admin import ensure_first_admin

    weak = make_settings(database, admin_username="boss", admin_password="password")
    assert ensure_first_admin(database, weak) is False
    good = make_settings(database, admin_username="boss", admin_password=PASSWORD)
    assert ensure_first_admin(database, good) is True
    assert ensure_first_admin(database, good) is False  # idempotent on every start
    with database.read() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.username == "boss"))
        assert user is not None and user.role == "admin"


def test_purge_stale_sessions_and_attempts(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    from bot.models.base import utcnow
    from bot.models.staff import LoginAttempt

    make_user(database, "hanako")
    logged_in(staff_client, "hanako")
    login(web.client(), "hanako", "wrong password 123")
    with database.write() as session:
        removed = staff_actions.purge_stale(session, now=utcnow(), policy=web.ctx.policy)
    assert removed == 0  # a live session and a fresh attempt stay
    assert staff_client.get("/admin/").status_code == 200
    later = utcnow() + web.ctx.policy.absolute_timeout + timedelta(days=31)
    with database.write() as session:
        # one session, two attempts (the failed one and the successful login)
        assert staff_actions.purge_stale(session, now=later, policy=web.ctx.policy) == 3
    with database.read() as session:
        assert session.scalar(select(StaffSession)) is None
        assert session.scalar(select(LoginAttempt)) is None


def test_admin_errors_are_html_pages_without_echo(
    staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    logged_in(staff_client, "hanako")
    for path, status in (
        ("/admin/no-such-page", 404),
        ("/admin/cases/<script>x<script>", 400),
        ("/admin/cases/1/claim", 405),
    ):
        response = staff_client.get(path)
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("text/html")
        assert "<script>x" not in response.text and "&lt;script&gt;x" not in response.text
        assert response.headers["content-security-policy"]
    # Outside /admin the JSON answers are unchanged.
    assert staff_client.get("/no-such-page").headers["content-type"].startswith("application/json")


def test_first_admin_created_by_app_start_and_can_log_in(database: Database) -> None:
    server = WebServer(database, admin_username="boss", admin_password=PASSWORD).start()
    try:
        client = server.client()
        assert login(client, "boss").status_code == 303
        assert client.get("/admin/users").status_code == 200  # admin pages
    finally:
        server.stop()
