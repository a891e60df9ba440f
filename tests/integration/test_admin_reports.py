"""Reports and the audit log view: numbers, SVG charts, CSV (BOM, formula-safe), rights,
no message text; the `marugoto admin create-user` command; migration matches the models."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.models.core import Handoff
from bot.models.staff import StaffUser
from tests.integration.admin_support import (
    PASSWORD,
    StaffClient,
    logged_in,
    make_case,
    make_user,
    staff_client,
    web,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_client", "web"]


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8")[1:])))


def test_reports_tables_charts_and_csv(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "boss", role="supervisor")
    now = datetime.now(UTC)
    a = make_case(database, text="REPORT-SENTINEL", windows=["elderly_care"], reporter="family")
    make_case(database, urgency="crisis", consented=False, windows=["general_desk"])
    make_case(database, windows=["elderly_care"])
    with database.write() as session:
        handoff = session.get(Handoff, a)
        assert handoff is not None
        handoff.first_response_at = handoff.created_at + timedelta(minutes=30)
        handoff.connected_windows = ["elderly_care", "disability"]
    logged_in(staff_client, "boss")
    page = staff_client.get("/admin/reports")
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") >= 5 and "REPORT-SENTINEL" not in html
    assert "地域包括支援センター" in html and "危機対応の件数" in html
    month = now.astimezone().strftime("%Y-%m")
    rows = _csv(staff_client.get("/admin/reports/consultations_by_window.csv").content)
    assert rows[0] == ["窓口", "窓口ID", "件数"]
    assert ["地域包括支援センター", "elderly_care", "2"] in rows
    handoffs = _csv(staff_client.get("/admin/reports/handoffs.csv").content)
    assert [month, "3", "1", "0", "2", "2"] in handoffs
    response = _csv(staff_client.get("/admin/reports/first_response.csv").content)
    assert [month, "1", "30.0", "30.0", "30.0"] in response
    connections = _csv(staff_client.get("/admin/reports/connections.csv").content)
    assert ["障がいのある方の相談", "disability", "1"] in connections
    crisis = _csv(staff_client.get("/admin/reports/crisis.csv").content)
    assert [month, "1", "1"] in crisis
    for name in ("bookings", "ibasho_first_visits", "consultations_by_reporter"):
        assert staff_client.get(f"/admin/reports/{name}.csv").status_code == 200
    assert staff_client.get("/admin/reports/nope.csv").status_code == 404
    everything = b"".join(
        staff_client.get(f"/admin/reports/{n}.csv").content
        for n in ("consultations_by_month", "handoffs", "crisis", "connections")
    )
    assert b"REPORT-SENTINEL" not in everything
    # Tampered period parameters are ignored, not a 500.
    for params in ({"from": "'; --"}, {"to": "9999-99"}, {"from": "2026-12", "to": "2020-01"}):
        assert staff_client.get("/admin/reports", params=params).status_code == 200


def test_audit_view_and_export(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "boss", role="supervisor")
    make_user(database, "hanako")
    logged_in(staff_client, "boss")
    page = staff_client.get("/admin/audit", params={"action": "account.create"})
    assert page.status_code == 200 and page.text.count("<tr><td>") == 2
    rows = _csv(staff_client.get("/admin/audit.csv").content)
    actions = [r[2] for r in rows[1:]]
    assert actions.count("account.create") == 2 and "login.ok" in actions
    for params in ({"action": "x' OR 1=1"}, {"page": "abc"}, {"from": "bad"}):
        assert staff_client.get("/admin/audit", params=params).status_code == 200


def test_cli_create_user(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        assert main(["admin", "create-user", "hanako", "--role", "supervisor",
                     "--password-stdin"]) == 0  # fmt: skip
        monkeypatch.setattr(sys, "stdin", io.StringIO("password\n"))
        assert main(["admin", "create-user", "taro", "--password-stdin"]) == 1
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        assert main(["admin", "create-user", "hanako", "--password-stdin"]) == 1
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    with database.read() as session:
        users = list(session.scalars(select(StaffUser)))
        assert [(u.username, u.role) for u in users] == [("hanako", "supervisor")]


def test_staff_migration_matches_models(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.models import Base

    mine = {"staff_user", "staff_session", "login_attempt", "case_note", "staff_reply"}
    with database.write_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)

    def table_of(change: object) -> str | None:
        item = change[0] if isinstance(change, list) else change
        for part in item[1:] if isinstance(item, tuple) else ():
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None) in mine:
                return str(table.name)
            if name in mine:
                return str(name)
            if isinstance(part, str) and part in mine:
                return part
        return None

    assert [c for c in diff if table_of(c)] == []
