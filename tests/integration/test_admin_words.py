"""Issue 11 item 4, what staff read: a case's history, the triage evidence and the audit log
in Japanese, page views folded into one line per staff member and day; the audit filter
lists Japanese names. Real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.db import Database
from bot.models.core import AuditLog, Handoff
from tests.integration.admin_support import (
    StaffClient,
    WebServer,
    logged_in,
    make_case,
    make_user,
    staff_client,
    web,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_client", "web"]

CODES = ("case.view", "case.claim", "case.status", "message.sent", "handoff.urgent")


def history_rows(html: str) -> list[tuple[str, str]]:
    """(data-action, visible text) of each line of the 履歴 table."""
    section = html.split('id="history"', 1)[1]
    rows = re.findall(r'<tr data-action="([^"]+)">(.*?)</tr>', section, re.S)
    return [(action, re.sub(r"<[^>]+>", " ", body)) for action, body in rows]


def test_history_and_evidence_in_words(
    web: WebServer, staff_client: StaffClient, database: Database
) -> None:
    hanako = make_user(database, "hanako", role="supervisor")
    make_user(database, "taro")
    case_id = make_case(database, text="家賃が払えなくて困っています", urgency="concern")
    with database.write() as session:
        handoff = session.get_one(Handoff, case_id)
        summary = dict(handoff.summary or {})
        summary["evidence"] = [
            *summary["evidence"],
            {"window": "crisis", "term": "死にたい(negated)", "matched": "死にたくはない",
             "weight": 0.5, "via": "pattern"},
        ]  # fmt: skip
        handoff.summary = summary
        # Yesterday's view by hanako, and an urgent flag from the system.
        session.add(
            AuditLog(
                actor_type="staff",
                actor_id=str(hanako),
                action="case.view",
                target_type="handoff",
                target_id=str(case_id),
                detail={"basis": "consent"},
                at=datetime.now(UTC) - timedelta(days=1, hours=1),
            )
        )
        session.add(
            AuditLog(
                actor_type="system",
                actor_id=None,
                action="handoff.urgent",
                target_type="handoff",
                target_id=str(case_id),
                detail={"urgency": "crisis"},
                at=datetime.now(UTC) - timedelta(minutes=5),
            )
        )
    token = logged_in(staff_client, "hanako")
    for _ in range(3):
        assert staff_client.get(f"/admin/cases/{case_id}").status_code == 200
    other = web.client()
    logged_in(other, "taro")
    other.get(f"/admin/cases/{case_id}")
    o = staff_client.origin
    staff_client.post(f"/admin/cases/{case_id}/claim", data={"csrf_token": token}, headers=o)
    status = {"csrf_token": token, "status": "waiting_resident"}
    staff_client.post(f"/admin/cases/{case_id}/status", data=status, headers=o)
    staff_client.post(f"/admin/cases/{case_id}/reply",
                      data={"csrf_token": token, "text": "はじめまして", "request_key": "w" * 32},
                      headers=o)  # fmt: skip
    html = staff_client.get(f"/admin/cases/{case_id}").text
    rows = history_rows(html)
    text = " ".join(body for _, body in rows)

    # Views (this page's own is recorded after it is read): today hanako 3 in one line,
    # taro 1, yesterday hanako 1.
    views = [body for action, body in rows if action == "case.view"]
    assert len(views) == 3, views
    assert any("hanako" in v and "閲覧 3回" in v for v in views)
    assert any("taro" in v and "閲覧" in v and "回" not in v for v in views)
    assert sum("本人の同意にもとづく" in v for v in views) == 3
    # Every action in words, no codes, no JSON.
    for label in ("担当になった", "状況の変更", "送信", "緊急と判定"):
        assert label in text, label
    assert "「対応中」→「本人の返事待ち」" in text
    for code in CODES:
        assert code not in text, code
    assert "{" not in text and "outbox_id" not in text
    assert "システム" in text  # the urgent flag came from the system

    # Evidence: what matched, in words; never "(pattern, 1.0)".
    evidence = html.split('class="evidence"', 1)[1].split("</ul>", 1)[0]
    plain = re.sub(r"<[^>]+>", "", evidence)
    assert "「家賃が払えなくて困っ」が「家賃」に当たりました" in plain
    assert "ことばの形が一致" in plain and "強い手がかり" in plain
    assert "「死にたくはない」が「死にたい」に当たりました" in plain and "打ち消し" in plain
    assert not re.search(r"\((lemma|pattern|reading|surface|fuzzy), [0-9.]+\)", plain)


def test_audit_log_in_japanese(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "root", role="admin")
    taro = make_user(database, "taro")
    case_id = make_case(database)
    token = logged_in(staff_client, "root")
    staff_client.get(f"/admin/cases/{case_id}")
    staff_client.post(f"/admin/users/{taro}/role",
                      data={"csrf_token": token, "role": "supervisor"},
                      headers=staff_client.origin)  # fmt: skip
    html = staff_client.get("/admin/audit").text
    select = html.split('<select name="action">', 1)[1].split("</select>", 1)[0]
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select))
    assert options["account.create"] == "アカウントの作成"
    assert options["case.view"] == "閲覧" and options["login.ok"] == "ログイン"
    assert not [label for code, label in options.items() if code and label == code]
    table = re.sub(r"<[^>]+>", " ", html.split("<tbody>", 1)[1].split("</tbody>", 1)[0])
    assert "役割の変更" in table and "職員 → 管理職" in table
    assert "account.role" not in table and '"from"' not in table
    # Filtering by a code still works (the value stays the code).
    only = staff_client.get("/admin/audit", params={"action": "case.view"}).text
    assert len(re.findall(r'<td data-action="case.view">', only)) == 1
    assert 'data-action="account.role"' not in only
    # The CSV keeps the code for machines and adds the words.
    rows = list(csv.reader(io.StringIO(staff_client.get("/admin/audit.csv").text.lstrip("\ufeff"))))
    header = rows[0]
    assert "種別" in header and "操作" in header and "詳細(ことば)" in header
    by_code = {r[header.index("種別")]: r for r in rows[1:]}
    assert by_code["case.view"][header.index("操作")] == "閲覧"
    assert by_code["account.role"][header.index("詳細(ことば)")] == "職員 → 管理職"


def test_many_views_do_not_push_the_claim_out_of_the_history(
    staff_client: StaffClient, database: Database
) -> None:
    hanako = make_user(database, "hanako")
    case_id = make_case(database)
    now = datetime.now(UTC)
    with database.write() as session:
        session.add(
            AuditLog(
                actor_type="staff",
                actor_id=str(hanako),
                action="case.claim",
                target_type="handoff",
                target_id=str(case_id),
                detail={},
                at=now - timedelta(days=3),
            )
        )
        for n in range(260):  # a case open on a desk for days: hundreds of page views
            session.add(
                AuditLog(
                    actor_type="staff",
                    actor_id=str(hanako),
                    action="case.view",
                    target_type="handoff",
                    target_id=str(case_id),
                    detail={"basis": "consent"},
                    at=now - timedelta(days=2) + timedelta(minutes=n),
                )
            )
    logged_in(staff_client, "hanako")
    rows = history_rows(staff_client.get(f"/admin/cases/{case_id}").text)
    assert [a for a, _ in rows].count("case.claim") == 1
    views = [body for a, body in rows if a == "case.view"]
    assert 1 <= len(views) <= 2  # 260 views on one or two JST days
    assert sum(int(re.search(r"閲覧 (\d+)回", v).group(1)) for v in views) == 260  # type: ignore[union-attr]
