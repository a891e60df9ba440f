"""The staff UI in a real headless Chromium (Debian's, driven by Playwright; no download),
against the whole service under uvicorn: signed LINE webhooks in, the worker, the outbox
sender and the fake LINE server over HTTP.

Flow: a resident writes on LINE (with XSS payloads) and agrees to a handoff; another writes
in crisis. Staff log in with the keyboard, see both in the queue (the crisis one first,
with the alert), open the case (payloads shown as text, no dialog ever opens), claim it,
reply with a canned phrase (the fake LINE receives the push), hand back to the bot, book and
cancel from the slots screen, and export a report. Screenshots are taken every run; they
replace the README's (docs/screenshots/) only with MARUGOTO_UPDATE_SCREENSHOTS=1, so a test
run leaves the work tree clean.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actions import slots as slot_actions
from bot.db import Database
from bot.fakeline import FakeLine
from bot.models.booking import Booking
from bot.models.core import Handoff, InboxEvent, Outbox, Resident
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.integration.admin_support import PASSWORD, make_case, make_user
from tests.integration.conftest import ACCESS_TOKEN, Service, SignedWebhook, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
README_SCREENSHOTS = REPO / "docs" / "screenshots"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    if os.environ.get("MARUGOTO_UPDATE_SCREENSHOTS") == "1":
        return README_SCREENSHOTS
    return tmp_path


XSS_TEXT = (
    '<script>alert("x")</script><img src=x onerror="alert(1)">'
    '<a href="javascript:alert(2)">link</a> {{7*7}} ${7*7} '
    "家賃が払えなくて、来月から住むところがなくなりそうです"
)


@pytest.fixture
def service(database: Database) -> Iterator[Service]:
    with FakeLine() as fake:
        settings = make_settings(
            database.url,
            fake.base_url,
            MARUGOTO_SECRET_KEY="e2e-" + secrets.token_hex(16),
            MARUGOTO_ENV="development",
        )
        running = Service(settings, database, fake, role="all").start()
        try:
            yield running
        finally:
            running.stop()


def wait(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    assert predicate(), "timed out"


def settled(database: Database) -> bool:
    with database.read() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(InboxEvent.status.in_(("pending", "claimed")))
        )
    return pending == 0


def send(service: Service, event: dict[str, Any]) -> None:
    assert service.send(event).status_code == 200
    wait(lambda: settled(service.database))


def resident_handoff(database: Database, user_id: str) -> Handoff | None:
    with database.read() as session:
        row = session.scalar(
            select(Handoff)
            .join(Resident, Resident.id == Handoff.resident_id)
            .where(Resident.line_user_id == user_id)
        )
        session.expunge_all()
        return row


def outbox_sent(database: Database, prefix: str) -> bool:
    with database.read() as session:
        statuses = list(
            session.scalars(select(Outbox.status).where(Outbox.dedupe_key.startswith(prefix)))
        )
    return bool(statuses) and all(s == "sent" for s in statuses)


def texts_to(fake: FakeLine, user_id: str) -> list[str]:
    return [str(m.get("text", "")) for m in fake.messages_to(user_id)]


def test_staff_flow_in_browser(
    chromium: str, service: Service, caplog: pytest.LogCaptureFixture, screenshots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # SQL echo is not the app's log; set before the root level (the handler keeps the last).
    caplog.set_level(logging.WARNING, logger="sqlalchemy")
    caplog.set_level(logging.INFO)
    database, fake = service.database, service.fake
    hook = SignedWebhook()
    make_user(database, "soudan.admin", role="admin")
    # Some background cases so the queue looks like a working day.
    hours = [
        datetime.now(UTC) - timedelta(hours=h, minutes=m) for h, m in ((26, 10), (3, 5), (1, 40))
    ]
    make_case(database, text="母の介護のことで相談したいです", windows=["elderly_care"],
              reporter="family", created_at=hours[0])  # fmt: skip
    make_case(database, consented=False, windows=["hikikomori_family"], reporter="family",
              created_at=hours[1])  # fmt: skip
    make_case(database, urgency="concern", text="仕事が見つからず、貯金がなくなりそうです",
              windows=["self_reliance", "work_readiness"], created_at=hours[2])  # fmt: skip

    # A resident writes (with payloads) and agrees to talk with staff — all by signed webhook.
    user = "U" + secrets.token_hex(16)
    send(service, hook.follow(user_id=user))
    send(service, hook.text(XSS_TEXT, user_id=user))
    send(service, hook.postback("a=staff", user_id=user))
    send(service, hook.postback("a=consent&v=yes", user_id=user))
    send(service, hook.postback("a=contact&m=line", user_id=user))
    send(service, hook.postback("a=time&v=any", user_id=user))
    handoff = resident_handoff(database, user)
    assert handoff is not None and handoff.consented, "the conversation made no handoff"
    # Another resident in crisis (no consent asked: the crisis policy applies).
    crisis_user = "U" + secrets.token_hex(16)
    send(service, hook.text("もう死にたい", user_id=crisis_user))
    crisis = resident_handoff(database, crisis_user)
    assert crisis is not None and crisis.urgency == "crisis"

    screenshots.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1366, "height": 900}, locale="ja-JP", accept_downloads=True
            )
            page = context.new_page()

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # Log in with the keyboard only.
            page.goto(f"{service.base_url}/admin/")
            expect(page.locator("h1")).to_have_text("ログイン")
            page.keyboard.type("soudan.admin")  # the name field has autofocus
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
            expect(page.locator("h1")).to_have_text("相談一覧")

            # The queue: crisis first with the alert; payloads are text.
            expect(page.locator(".crisis-alert")).to_contain_text("緊急の相談が")
            first = page.locator("table.queue tbody tr").first
            expect(first).to_contain_text("緊急")
            # 内容 may show the resident's words or only the worry's terms (issue 11): either
            # way no payload becomes markup.
            link = page.locator(f'a[href="/admin/cases/{handoff.id}"]')
            row = page.locator("table.queue tbody tr", has=link)
            expect(row).to_be_visible()
            if "<script>" in (row.text_content() or ""):
                expect(row).to_contain_text('<script>alert("x")</script>')
            assert page.locator("table.queue img, table.queue script").count() == 0
            assert page.title().startswith("【緊急あり】")  # admin.js flagged the tab
            page.screenshot(path=str(screenshots / "queue.png"))
            page.set_viewport_size({"width": 820, "height": 1180})
            page.screenshot(path=str(screenshots / "queue-tablet.png"))
            page.set_viewport_size({"width": 1366, "height": 900})

            # Live update: a new case appears without reloading (htmx polling).
            late = make_case(database, text="あとから来た相談", windows=["consumer"])
            expect(page.locator(f'a[href="/admin/cases/{late}"]')).to_be_visible(timeout=15_000)

            # Search finds the case by the resident's words; a template payload stays literal.
            page.fill("input[name=q]", "{{7*7}}")
            page.click("form.filters button[type=submit]")
            expect(page.locator(f'table.queue a[href="/admin/cases/{handoff.id}"]')).to_be_visible()
            expect(page.locator("input[name=q]")).to_have_value("{{7*7}}")

            # The case: payloads as text, claim, reply with a canned phrase.
            page.click(f'a[href="/admin/cases/{handoff.id}"]')
            expect(page.locator("h1")).to_contain_text(f"相談 #{handoff.id}")
            chat = page.locator("ol.chat")
            expect(chat).to_contain_text('<script>alert("x")</script>')
            expect(chat).to_contain_text('<a href="javascript:alert(2)">link</a>')
            assert page.locator("ol.chat img, ol.chat a").count() == 0
            page.click("text=担当になる")
            expect(page.locator(".flash")).to_contain_text("担当になりました")
            page.click("button:has-text('はじめのあいさつ')")  # htmx fills the reply box
            expect(page.locator("#reply-text")).to_have_value(re.compile("はじめまして"))
            page.fill("#reply-text", "はじめまして。福祉総合相談窓口の 担当です。<b>よろしく</b>")
            page.click("text=送信する")
            expect(page.locator(".flash")).to_contain_text("送信の列に入れました")
            wait(lambda: any("担当です" in t for t in texts_to(fake, user)))
            assert "はじめまして。福祉総合相談窓口の 担当です。<b>よろしく</b>" in texts_to(
                fake, user
            )
            wait(lambda: outbox_sent(database, "staff:"))
            page.reload()
            expect(page.locator("ol.chat .msg.staff").last).to_contain_text("送信済み")
            page.screenshot(path=str(screenshots / "case.png"))
            page.screenshot(path=str(screenshots / "case-full.png"), full_page=True)

            # Hand back to the bot: the resident is told, the bot answers again.
            page.click("text=ボットにもどす")
            expect(page.locator(".flash")).to_contain_text("ボットにもどしました")
            wait(lambda: any("いったん 終わります" in t for t in texts_to(fake, user)))
            with database.read() as session:
                resident = session.scalar(select(Resident).where(Resident.line_user_id == user))
                assert resident is not None and resident.staff_active is False

            # The crisis case: summary under the crisis policy, no conversation.
            page.goto(f"{service.base_url}/admin/cases/{crisis.id}")
            expect(page.locator("body")).to_contain_text("危機対応の方針")
            assert page.locator("ol.chat").count() == 0

            # Slots: book the first resident into a slot, then cancel it.
            with database.write() as session:
                slot_actions.ensure_slots(session, datetime.now(UTC))
            page.goto(f"{service.base_url}/admin/slots?service=consultation")
            form = page.locator("form[action$='/book']").first
            form.locator("input[name=case_id]").fill(str(handoff.id))
            form.locator("button[type=submit]").click()
            expect(page.locator(".flash")).to_contain_text("予約しました")
            with database.read() as session:
                reference = session.scalar(
                    select(Booking.reference).where(Booking.status == "active")
                )
                assert reference is not None
            page.locator(
                f"button[aria-label='予約 {reference} を取り消す']"
            ).scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots / "slots.png"))
            page.locator(f"button[aria-label='予約 {reference} を取り消す']").click()
            expect(page.locator(".flash")).to_contain_text("予約を取り消しました")
            with database.read() as session:
                assert session.scalar(select(Booking.status)) == "cancelled"

            # Reports: charts and a CSV download.
            page.goto(f"{service.base_url}/admin/reports")
            expect(page.locator("h1")).to_have_text("集計(評価指標)")
            assert page.locator("svg.chart").count() >= 5
            page.screenshot(path=str(screenshots / "reports.png"), full_page=False)
            with page.expect_download() as download_info:
                page.click("a[href^='/admin/reports/handoffs.csv']")
            body = Path(download_info.value.path()).read_bytes()
            assert body.startswith(b"\xef\xbb\xbf") and "件数".encode() in body
            assert "家賃".encode() not in body and b"script" not in body

            # Log out: back to the login page, the queue needs a login again.
            page.click("text=ログアウト")
            expect(page.locator("h1")).to_have_text("ログイン")
            page.goto(f"{service.base_url}/admin/")
            expect(page.locator("h1")).to_have_text("ログイン")
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()
    assert dialogs == [], f"a payload ran: {dialogs}"
    # E6: nothing secret or resident-written reached the logs.
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    secrets_seen = (PASSWORD, "家賃が払えなくて", "はじめまして", "死にたい", ACCESS_TOKEN, "e2e-")
    assert len(caplog.records) > 5  # the service did log (ids only)
    for secret in secrets_seen:
        assert secret not in logged, secret
