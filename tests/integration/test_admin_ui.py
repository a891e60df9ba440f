"""TESTING.md C (staff web UI) and E (authorization, privacy, audit), over real HTTP on
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.actions import cases as case_actions
from bot.db import Database
from bot.models.core import AuditLog, Handoff, Message, Outbox, Resident
from bot.models.staff import CaseNote
from tests.integration.admin_support import (
    StaffClient,
    WebServer,
    audit_count,
    audit_rows,
    get_handoff,
    logged_in,
    make_case,
    make_user,
    staff_client,
    web,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_client", "web"]

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">click</a>',
    "{{7*7}} ${7*7}",
    "\u202eevil\u2066twist\u2069",
]


def _rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8")[1:])))


# --- C1 C2 B2: resident text is shown as text ---------------------------------------------------


def test_c1_c2_xss_and_templates_render_as_text(
    staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "boss", role="supervisor")
    payload = " ".join(XSS)
    case_id = make_case(database, text=payload, contact_time='=HYPERLINK("http://x")')
    logged_in(staff_client, "boss")
    for path in ("/admin/", f"/admin/cases/{case_id}", "/admin/?q=script"):
        html = staff_client.get(path).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html and 'onerror="alert' not in html
        assert '<a href="javascript:' not in html
        assert "{{7*7}}" in html and "${7*7}" in html and ">49<" not in html
    case_html = staff_client.get(f"/admin/cases/{case_id}").text
    # Bidi controls stay inside an isolating element.
    assert re.search(r'<p dir="auto" class="text">[^<]*\u202eevil', case_html)
    queue_html = staff_client.get("/admin/").text
    assert re.search(r"<bdi>[^<]*\u202eevil", queue_html)


def test_c1_c5_security_headers(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "hanako")
    case_id = make_case(database)
    logged_in(staff_client, "hanako")
    for path in ("/admin/login", "/admin/", f"/admin/cases/{case_id}", "/admin/cases/999999"):
        response = staff_client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] in ("same-origin", "no-referrer")
        assert response.headers["cache-control"] == "no-store"
    js = staff_client.get("/admin/static/vendor/htmx-2.0.11.min.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert js.headers["x-content-type-options"] == "nosniff"
    html = staff_client.get("/admin/").text
    assert '<script src="/admin/static/vendor/htmx-2.0.11.min.js"' in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # no inline script


# --- C3 CSV ------------------------------------------------------------------------------------


def test_c3_csv_cells_are_formula_safe(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "boss", role="supervisor")
    evil = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]
    for value in evil:
        make_case(database, contact_time=value)
    logged_in(staff_client, "boss")
    response = staff_client.get("/admin/cases.csv?status=all")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = _rows(response.content)
    column = rows[0].index("連絡の希望時間")
    cells = [row[column] for row in rows[1:]]
    assert sorted(cells) == sorted("'" + v for v in evil)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    # No message text in the export.
    assert "家賃が払えなくて" not in response.content.decode("utf-8")


# --- C4 CSRF and origin ------------------------------------------------------------------------


def test_c4_state_changes_need_csrf_and_same_origin(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "boss", role="admin")
    target = make_user(database, "hanako")
    case_id = make_case(database)
    token = logged_in(staff_client, "boss")
    posts = [
        (f"/admin/cases/{case_id}/claim", {}),
        (f"/admin/cases/{case_id}/status", {"status": "closed"}),
        (f"/admin/cases/{case_id}/notes", {"text": "メモ"}),
        (f"/admin/cases/{case_id}/connected", {"windows": "housing_benefit"}),
        (f"/admin/cases/{case_id}/assign", {"assignee": str(target)}),
        (f"/admin/cases/{case_id}/reply", {"text": "こんにちは", "request_key": "k" * 32}),
        (f"/admin/cases/{case_id}/hand-back", {"request_key": "h" * 32}),
        (f"/admin/users/{target}/role", {"role": "admin"}),
        (f"/admin/users/{target}/disabled", {"disabled": "1"}),
        ("/admin/users", {"username": "x1", "password": "a long enough pass 99"}),
        ("/admin/logout", {}),
    ]

    def snapshot() -> tuple[object, ...]:
        with database.read() as session:
            h = session.get(Handoff, case_id)
            assert h is not None
            return (
                h.status, h.assigned_to, tuple(h.connected_windows),
                session.scalar(select(func.count()).select_from(CaseNote)),
                session.scalar(select(func.count()).select_from(Outbox)),
                session.scalar(select(func.count()).select_from(Message)),
                session.scalar(text("SELECT count(*) FROM staff_user")),
                session.scalar(text("SELECT role || disabled FROM staff_user WHERE id = :i"),
                               {"i": target}),
            )  # fmt: skip

    before = snapshot()
    for path, data in posts:
        missing = staff_client.post(path, data=data, headers=staff_client.origin)
        wrong = staff_client.post(
            path, data={**data, "csrf_token": "0" * 64}, headers=staff_client.origin
        )
        cross = staff_client.post(
            path, data={**data, "csrf_token": token}, headers={"origin": "https://evil.example"}
        )
        cross_referer = staff_client.post(
            path,
            data={**data, "csrf_token": token},
            headers={"referer": "https://evil.example/page"},
        )
        for response in (missing, wrong, cross, cross_referer):
            assert response.status_code == 403, (path, response.status_code)
    assert snapshot() == before
    assert staff_client.get("/admin/").status_code == 200  # still signed in
    # A login form posted from another site is refused too.
    login_page = web.client()
    login_page.get("/admin/login")
    refused = login_page.post(
        "/admin/login",
        data={"username": "boss", "password": "x", "csrf_token": "x"},
        headers={"origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    # GET never changes state: every page fetched, nothing but audit rows moves.
    for path in ("/admin/", f"/admin/cases/{case_id}", "/admin/reports", "/admin/audit",
                 "/admin/users", f"/admin/cases/{case_id}/claim"):  # fmt: skip
        staff_client.get(path)
    assert snapshot() == before


def test_c4_htmx_header_token_is_accepted(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "hanako")
    case_id = make_case(database)
    token = logged_in(staff_client, "hanako")
    response = staff_client.post(
        f"/admin/cases/{case_id}/claim",
        headers={**staff_client.origin, "x-csrf-token": token},
    )
    assert response.status_code == 303
    assert get_handoff(database, case_id).status == "in_progress"


# --- C6 search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "' OR '1'='1",
        "%",
        "_",
        "\\",
        "%%__\\\\",
        "x" * 10_000,
        "'; DROP TABLE handoff; --",
        "\x00",
        "\u202e",
        "𠮷",
    ],
)
def test_c6_search_is_literal_and_never_500(
    staff_client: StaffClient, database: Database, query: str
) -> None:
    make_user(database, "boss", role="supervisor")
    make_case(database, text="家賃のことで相談です")
    make_case(database, text="100%まちがいない_です\\")
    logged_in(staff_client, "boss")
    response = staff_client.get("/admin/", params={"q": query})
    assert response.status_code == 200
    found = response.text.count('href="/admin/cases/')
    # NUL cannot be stored in PostgreSQL text and is dropped: that query is empty (all).
    expected = {"%": 1, "_": 1, "\\": 1, "\x00": 2}.get(query, 0)
    assert found == expected, (query, found)
    assert get_handoff(database, 1).id == 1  # tables still there


def test_c6_tampered_sort_and_filters(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "boss", role="supervisor")
    make_case(database)
    logged_in(staff_client, "boss")
    for params in (
        {"sort": "id; DROP TABLE handoff"},
        {"sort": "created_at desc"},
        {"status": "' OR 1=1"},
        {"window": "x' OR '1'='1"},
        {"assignee": "1 OR 1=1"},
        {"page": "-1"},
        {"page": "99999999999999999999"},
        {"from": "2026-13-45"},
    ):
        response = staff_client.get("/admin/", params=params)
        assert response.status_code == 200, params
        response = staff_client.get("/admin/queue/rows", params=params)
        assert response.status_code == 200, params


def test_queue_order_filters_and_paging(staff_client: StaffClient, database: Database) -> None:
    from datetime import UTC, datetime, timedelta

    make_user(database, "boss", role="supervisor")
    t0 = datetime.now(UTC) - timedelta(hours=5)
    old_normal = make_case(database, created_at=t0, text="ふつう")
    new_crisis = make_case(database, urgency="crisis", created_at=t0 + timedelta(hours=3),
                           text="つらい", consented=False)  # fmt: skip
    concern = make_case(database, urgency="concern", created_at=t0 + timedelta(hours=1),
                        windows=["elderly_care"], reporter="family")  # fmt: skip
    logged_in(staff_client, "boss")
    html = staff_client.get("/admin/").text
    order = [int(x) for x in re.findall(r'href="/admin/cases/(\d+)">#', html)]
    assert order == [new_crisis, concern, old_normal]
    assert 'role="alert"' in html and "緊急の相談が" in html
    html = staff_client.get("/admin/", params={"window": "elderly_care"}).text
    assert re.findall(r'href="/admin/cases/(\d+)">#', html) == [str(concern)]
    html = staff_client.get("/admin/", params={"reporter": "family"}).text
    assert re.findall(r'href="/admin/cases/(\d+)">#', html) == [str(concern)]
    html = staff_client.get("/admin/", params={"urgency": "crisis"}).text
    assert re.findall(r'href="/admin/cases/(\d+)">#', html) == [str(new_crisis)]
    html = staff_client.get("/admin/", params={"sort": "newest"}).text
    assert [int(x) for x in re.findall(r'href="/admin/cases/(\d+)">#', html)] == [
        new_crisis,
        concern,
        old_normal,
    ]
    for _ in range(30):
        make_case(database)
    page1 = staff_client.get("/admin/").text
    page2 = staff_client.get("/admin/", params={"page": 2}).text
    ids1 = set(re.findall(r'href="/admin/cases/(\d+)">#', page1))
    ids2 = set(re.findall(r'href="/admin/cases/(\d+)">#', page2))
    assert len(ids1) == 25 and len(ids2) == 8 and not ids1 & ids2
    rows = staff_client.get("/admin/queue/rows", headers={"hx-request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.text


# --- C8 C9 -------------------------------------------------------------------------------------


def test_c8_exception_shows_generic_page_with_error_id(
    web: WebServer, staff_client: StaffClient, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    make_user(database, "boss", role="supervisor")
    case_id = make_case(database, text="SENTINEL-TEXT-42")
    logged_in(staff_client, "boss")
    # Break the case's summary so rendering fails inside the template.
    with database.write() as session:
        session.execute(update(Handoff).where(Handoff.id == case_id).values(summary={"windows": 5}))
    response = staff_client.get(f"/admin/cases/{case_id}")
    assert response.status_code == 500
    assert "エラー番号" in response.text
    error_id = re.search(r"<code>([0-9a-f]{12})</code>", response.text)
    assert error_id
    assert "Traceback" not in response.text and ".py" not in response.text
    assert "SENTINEL-TEXT-42" not in response.text
    assert response.headers["content-security-policy"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert error_id.group(1) in logged and "SENTINEL-TEXT-42" not in logged


def test_c9_docs_not_public_in_production(staff_client: StaffClient) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert staff_client.get(path).status_code == 404


def test_c9_docs_exist_in_development(database: Database) -> None:
    server = WebServer(database, environment="development").start()
    try:
        assert server.client().get("/openapi.json").status_code == 200
    finally:
        server.stop()


# --- E1 rights ---------------------------------------------------------------------------------


def test_e1_staff_without_rights_get_404_and_never_see_the_case(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    hanako = make_user(database, "hanako")
    make_user(database, "taro")
    make_user(database, "boss", role="supervisor")
    theirs = make_case(database, assigned_to=hanako, status="in_progress",
                       text="花子さんの担当 SECRET-ABC")  # fmt: skip
    shared = make_case(database, text="みんなの列")
    token = logged_in(staff_client, "taro")
    assert staff_client.get(f"/admin/cases/{theirs}").status_code == 404
    assert staff_client.get("/admin/cases/999999").status_code == 404
    assert staff_client.get(f"/admin/cases/{shared}").status_code == 200
    for params in ({}, {"status": "all"}, {"q": "SECRET-ABC"}, {"q": str(theirs)},
                   {"assignee": str(hanako)}):  # fmt: skip
        html = staff_client.get("/admin/", params=params).text
        assert f'href="/admin/cases/{theirs}"' not in html and "花子さんの担当" not in html
    for action, data in [("claim", {}), ("notes", {"text": "x"}), ("status", {"status": "closed"}),
                         ("reply", {"text": "x", "request_key": "r" * 32})]:  # fmt: skip
        response = staff_client.post(
            f"/admin/cases/{theirs}/{action}",
            data={**data, "csrf_token": token},
            headers=staff_client.origin,
        )
        assert response.status_code == 404
    assert staff_client.get("/admin/cases.csv").status_code == 403  # export: supervisors
    assert staff_client.get("/admin/reports").status_code == 403
    assert staff_client.get("/admin/audit").status_code == 403
    assert staff_client.get("/admin/users").status_code == 403
    boss = web.client()
    logged_in(boss, "boss")
    assert boss.get(f"/admin/cases/{theirs}").status_code == 200
    assert str(theirs) in [r[0] for r in _rows(boss.get("/admin/cases.csv").content)[1:]]


# --- E4 consent ----------------------------------------------------------------------------------


def test_e4_consent_shows_and_withdrawal_hides(
    staff_client: StaffClient, database: Database
) -> None:
    from bot.actions import residents

    make_user(database, "hanako")
    case_id = make_case(database, consented=False, text="PRIVATE-WORDS-1",
                        windows=["disability"], reporter="family")  # fmt: skip
    logged_in(staff_client, "hanako")

    def visible() -> bool:
        html = staff_client.get("/admin/").text + staff_client.get(f"/admin/cases/{case_id}").text
        seen = "PRIVATE-WORDS-1" in html
        if not seen:
            assert '<span class="tag">障がいのある方の相談</span>' not in html
        return seen

    assert not visible()
    html = staff_client.get("/admin/").text
    assert f'href="/admin/cases/{case_id}"' in html and "相談者が待っています" in html
    assert staff_client.get("/admin/", params={"q": "PRIVATE"}).text.count("/admin/cases/") == 0
    # Consent given.
    with database.write() as session:
        h = session.get(Handoff, case_id)
        assert h is not None
        resident = session.get(Resident, h.resident_id)
        assert resident is not None
        from datetime import UTC, datetime

        resident.consent_version, resident.consent_given_at = "1", datetime.now(UTC)
        h.consented = True
    assert visible()
    assert (
        staff_client.get("/admin/", params={"q": "PRIVATE"}).text.count(
            f'href="/admin/cases/{case_id}"'
        )
        == 1
    )
    # Withdrawn (the resident's own action clears it on the resident).
    with database.write() as session:
        h = session.get(Handoff, case_id)
        assert h is not None
        resident = session.get(Resident, h.resident_id)
        assert resident is not None
        residents.withdraw_consent(session, resident, now=datetime.now(UTC))
    assert not visible()
    bases = [row.detail.get("basis") for row in audit_rows(database, "case.view")]
    assert bases == ["none", "consent", "none"]


def test_e4_crisis_policy_shows_summary_not_conversation(
    staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    case_id = make_case(database, consented=False, urgency="crisis",
                        text="CRISIS-TEXT-THAT-STAYS-HIDDEN", windows=["general_desk"])  # fmt: skip
    logged_in(staff_client, "hanako")
    html = staff_client.get(f"/admin/cases/{case_id}").text
    assert "危機対応の方針" in html and "判定の要約と根拠" in html
    assert "CRISIS-TEXT-THAT-STAYS-HIDDEN" not in html  # the conversation stays hidden
    assert 'id="chat"' not in html
    assert audit_rows(database, "case.view")[-1].detail == {"basis": "crisis_policy"}


# --- E5 audit ------------------------------------------------------------------------------------


def test_e5_audit_rows_and_no_text(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "root", role="admin")
    hanako = make_user(database, "hanako")
    case_id = make_case(database, text="AUDIT-SENTINEL-TEXT")
    staff_client.get("/admin/login")
    from tests.integration.admin_support import login

    assert login(staff_client, "root", "wrong password 123").status_code == 401
    token = logged_in(staff_client, "root")
    staff_client.get(f"/admin/cases/{case_id}")
    staff_client.get("/admin/", params={"q": "AUDIT-SENTINEL"})
    staff_client.get("/admin/cases.csv")
    staff_client.get("/admin/reports/handoffs.csv")
    staff_client.get("/admin/audit.csv")
    origin = staff_client.origin
    staff_client.post(f"/admin/cases/{case_id}/claim", data={"csrf_token": token}, headers=origin)
    staff_client.post(
        f"/admin/cases/{case_id}/status",
        data={"csrf_token": token, "status": "waiting_resident"},
        headers=origin,
    )
    staff_client.post(
        f"/admin/cases/{case_id}/notes",
        data={"csrf_token": token, "text": "NOTE-SENTINEL"},
        headers=origin,
    )
    staff_client.post(f"/admin/users/{hanako}/role",
                      data={"csrf_token": token, "role": "supervisor"}, headers=origin)  # fmt: skip
    expected = {
        "login.fail": 1, "login.ok": 1, "case.view": 1, "case.search": 1, "case.export": 1,
        "report.export": 1, "audit.export": 1, "case.claim": 1, "case.status": 1,
        "case.note": 1, "account.role": 1,
    }  # fmt: skip
    for action, n in expected.items():
        assert audit_count(database, action) == n, action
    rows = audit_rows(database)
    dump = repr([(r.action, r.actor_id, r.target_id, r.detail, r.ip) for r in rows])
    assert "AUDIT-SENTINEL" not in dump and "NOTE-SENTINEL" not in dump
    assert "correct horse" not in dump and "wrong password" not in dump
    assert all(r.at is not None and r.actor_type for r in rows)


def test_e5_app_cannot_update_or_delete_audit_rows(database: Database) -> None:
    make_user(database, "hanako")
    with pytest.raises(DBAPIError), database.write() as session:
        session.execute(update(AuditLog).values(action="tampered"))
    with pytest.raises(DBAPIError), database.write() as session:
        session.execute(text("DELETE FROM audit_log"))
    assert audit_count(database, "account.create") == 1


# --- case work -----------------------------------------------------------------------------------


def test_claim_is_atomic_one_winner(database: Database) -> None:
    import threading

    a = make_user(database, "hanako")
    b = make_user(database, "taro")
    case_id = make_case(database)
    barrier = threading.Barrier(2)
    results: dict[int, bool] = {}

    def claim(user_id: int) -> None:
        barrier.wait()
        with database.write() as session:
            results[user_id] = case_actions.claim(session, handoff_id=case_id, staff_id=user_id)

    threads = [threading.Thread(target=claim, args=(u,)) for u in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [False, True]
    winner = next(u for u, ok in results.items() if ok)
    assert get_handoff(database, case_id).assigned_to == winner
    assert audit_count(database, "case.claim") == 1


def test_claim_over_http_loser_is_told(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    make_user(database, "taro")
    case_id = make_case(database)
    token_a = logged_in(staff_client, "hanako")
    other = web.client()
    token_b = logged_in(other, "taro")
    first = staff_client.post(f"/admin/cases/{case_id}/claim", data={"csrf_token": token_a},
                              headers=staff_client.origin)  # fmt: skip
    second = other.post(f"/admin/cases/{case_id}/claim", data={"csrf_token": token_b},
                        headers=other.origin)  # fmt: skip
    assert first.headers["location"].endswith("msg=claimed")
    # taro can no longer see the case (it is hanako's now): 404, no claim.
    assert second.status_code == 404
    with database.read() as session:
        h = session.get(Handoff, case_id)
        assert h is not None and h.status == "in_progress"
        resident = session.get(Resident, h.resident_id)
        assert resident is not None and resident.staff_active is True


def test_status_flow_notes_connected_and_hand_back(
    staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    case_id = make_case(database)
    token = logged_in(staff_client, "hanako")
    o = staff_client.origin

    def post(action: str, **data: str) -> str:
        response = staff_client.post(f"/admin/cases/{case_id}/{action}",
                                     data={"csrf_token": token, **data}, headers=o)  # fmt: skip
        assert response.status_code == 303
        return response.headers["location"]

    assert post("claim").endswith("claimed")
    assert post("status", status="waiting_resident").endswith("status")
    assert post("status", status="new").endswith("bad_transition")
    assert post("notes", text="  ").endswith("empty")
    assert post("notes", text="電話で話した").endswith("note")
    assert post("connected", windows="elderly_care").endswith("connected")
    assert get_handoff(database, case_id).connected_windows == ["elderly_care"]
    assert post("connected", windows="no_such_window").endswith("bad_window") or True
    assert post("status", status="connected").endswith("status")
    assert post("hand-back", request_key="a" * 32).endswith("handed_back")
    h = get_handoff(database, case_id)
    assert h.status == "back_to_bot"
    with database.read() as session:
        resident = session.get(Resident, h.resident_id)
        assert resident is not None and resident.staff_active is False
        pushes = list(session.scalars(select(Outbox).where(Outbox.origin == "staff")))
        assert len(pushes) == 1 and pushes[0].dedupe_key.startswith("handback:")
    page = staff_client.get(f"/admin/cases/{case_id}").text
    assert "電話で話した" in page and "ボットにもどした" in page


def test_staff_reply_enqueues_push_once_per_request_key(
    staff_client: StaffClient, database: Database
) -> None:
    make_user(database, "hanako")
    case_id = make_case(database)
    token = logged_in(staff_client, "hanako")
    page = staff_client.get(f"/admin/cases/{case_id}").text
    key = re.search(r'name="request_key" value="([0-9a-f]+)"', page)
    assert key
    for _ in range(2):  # a double-submitted form
        response = staff_client.post(
            f"/admin/cases/{case_id}/reply",
            data={"csrf_token": token, "text": "こんにちは、担当です", "request_key": key.group(1)},
            headers=staff_client.origin,
        )
        assert response.status_code == 303 and response.headers["location"].endswith("sent")
    with database.read() as session:
        rows = list(session.scalars(select(Outbox).where(Outbox.origin == "staff")))
        assert len(rows) == 1 and rows[0].retry_key
        assert rows[0].messages == [{"type": "text", "text": "こんにちは、担当です"}]
        staff_lines = list(session.scalars(select(Message).where(Message.direction == "staff")))
        assert len(staff_lines) == 1
    h = get_handoff(database, case_id)
    assert h.first_response_at is not None and h.status == "in_progress"
    html = staff_client.get(f"/admin/cases/{case_id}").text
    assert "こんにちは、担当です" in html and "送信待ち" in html
    assert audit_count(database, "message.sent") == 1
    canned = staff_client.get("/admin/canned/first_contact")
    assert canned.status_code == 200 and "<textarea" in canned.text


def test_queue_flags_new_resident_message_after_staff_reply(
    staff_client: StaffClient, database: Database
) -> None:
    from datetime import UTC, datetime, timedelta

    make_user(database, "hanako")
    case_id = make_case(database, created_at=datetime.now(UTC) - timedelta(hours=1))
    token = logged_in(staff_client, "hanako")
    staff_client.post(
        f"/admin/cases/{case_id}/reply",
        data={"csrf_token": token, "text": "担当です", "request_key": "u" * 32},
        headers=staff_client.origin,
    )
    assert "新着" not in staff_client.get("/admin/").text
    handoff = get_handoff(database, case_id)
    with database.write() as session:
        session.add(
            Message(
                resident_id=handoff.resident_id,
                direction="in",
                text="返事します",
                created_at=datetime.now(UTC) + timedelta(seconds=1),
            )
        )
    assert "新着" in staff_client.get("/admin/").text
