"""Issue 11 items 5 and 8 in a real headless Chromium against the whole service.

Layout at 390 px (a phone) and 768 px (a tablet): the queue shows window names and 担当
readably (element boxes measured), nothing scrolls sideways; on the case page the summary
and the reply box are on the first screen, above the conversation. Screenshots at both
widths (they replace the README's only with MARUGOTO_UPDATE_SCREENSHOTS=1).

Crisis alert: permission is asked only on the button click, never on load; each NEW crisis
case gives one desktop notification and one sound, and one announcement in the live region;
later polls that bring nothing new give none. The page's Notification is replaced by a
recorder (init script) because a headless browser shows no notification one could observe;
the sound is counted at the real Web Audio OscillatorNode.start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.db import Database
from bot.models.core import Handoff, Message
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.test_admin_browser import screenshots, service
from tests.integration.admin_support import PASSWORD, make_case, make_user
from tests.integration.conftest import Service
from tests.integration.test_admin_sessions import open_days

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["screenshots", "service"]

RECORDERS = """
(() => {
  const notes = [];
  window.__notes = notes;
  window.__asked = 0;
  window.__swaps = 0;
  window.__beeps = 0;
  const perm = () => localStorage.getItem("__perm") || "default";
  class RecordedNotification {
    constructor(title, options) { notes.push({ title: title, body: (options || {}).body || "",
                                               tag: (options || {}).tag || "" }); }
    close() {}
    static get permission() { return perm(); }
    static requestPermission(callback) {
      window.__asked += 1;
      localStorage.setItem("__perm", "granted");
      if (callback) { callback("granted"); }
      return Promise.resolve("granted");
    }
  }
  window.Notification = RecordedNotification;
  if (window.OscillatorNode) {
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function () {
      window.__beeps += 1;
      return start.apply(this, arguments);
    };
  }
  document.addEventListener("htmx:afterSwap", () => { window.__swaps += 1; });
  document.addEventListener("DOMContentLoaded", () => {
    window.__announced = [];
    const region = document.getElementById("crisis-announce");
    if (region) {
      new MutationObserver(() => window.__announced.push(region.textContent))
        .observe(region, { childList: true, characterData: true, subtree: true });
    }
  });
})();
"""

#: Long window names side by side, as on a busy day.
WINDOWS = ["hikikomori_family", "household_budget", "housing_benefit"]


def long_conversation(database: Database, handoff_id: int, lines: int = 40) -> None:
    with database.write() as session:
        handoff = session.get_one(Handoff, handoff_id)
        start = datetime.now(UTC) - timedelta(hours=2)
        for n in range(lines):
            session.add(
                Message(
                    resident_id=handoff.resident_id,
                    direction="in" if n % 2 == 0 else "bot",
                    text=f"{n + 1}番目のやりとりです。"
                    + "くらしのことで相談したいことがあります。" * 2,
                    created_at=start + timedelta(minutes=n),
                )
            )


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)


def poll(page: Any) -> None:
    """Run the queue's poll now (the same request and swap as its 10 s timer) and wait for
    the swap to land."""
    before = page.evaluate("window.__swaps")
    page.evaluate(
        "() => htmx.ajax('GET', document.getElementById('queue-live').getAttribute('hx-get'),"
        " {target: '#queue-live', swap: 'innerHTML'})"
    )
    page.wait_for_function(f"window.__swaps > {before}", timeout=15_000)


def test_layout_at_phone_and_tablet_widths_and_crisis_alerts(
    chromium: str, service: Service, screenshots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    database = service.database
    make_user(database, "soudan.admin", role="admin")
    earlier = datetime.now(UTC) - timedelta(hours=3)
    main = make_case(database, text="家賃が払えず、家族のことも心配です", windows=WINDOWS,
                     reporter="family", created_at=earlier)  # fmt: skip
    long_conversation(database, main)
    make_case(database, text="母の介護のことで相談したいです", windows=["elderly_care"],
              created_at=earlier + timedelta(minutes=20))  # fmt: skip
    first_crisis = make_case(database, urgency="crisis", consented=False, windows=["general_desk"])
    screenshots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
            context.add_init_script(RECORDERS)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{service.base_url}/admin/login")
            page.fill("#username", "soudan.admin")
            page.fill("#password", PASSWORD)
            page.press("#password", "Enter")
            expect(page.locator("h1")).to_have_text("相談一覧")

            for width, height in ((390, 844), (768, 1024)):
                page.set_viewport_size({"width": width, "height": height})
                page.goto(f"{service.base_url}/admin/")
                expect(page.locator("table.queue")).to_be_visible()
                # Nothing scrolls sideways.
                assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
                link = page.locator(f'a[href="/admin/cases/{main}"]')
                row = page.locator("table.queue tbody tr", has=link)
                windows = row.locator("td.c-windows")
                expect(windows).to_contain_text("ひきこもり")
                cell = windows.bounding_box()
                assert cell is not None
                assert cell["width"] >= (300 if width < 640 else 120), (width, cell)
                # Each window name stays on one line: a tag is not taller than two lines of text.
                for tag in windows.locator(".tag").all():
                    tag_box = tag.bounding_box()
                    assert tag_box is not None and tag_box["height"] < 40, (width, tag_box)
                assignee = row.locator("td.c-assignee")
                expect(assignee).to_be_visible()
                expect(assignee).to_contain_text("未担当")
                assigned_box = assignee.bounding_box()
                assert assigned_box is not None and assigned_box["width"] >= 48
                page.screenshot(path=str(screenshots / f"queue-{width}.png"))

                page.goto(f"{service.base_url}/admin/cases/{main}")
                expect(page.locator("h1")).to_contain_text(f"相談 #{main}")
                assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
                summary, reply = box(page, "#triage"), box(page, "#reply-text")
                chat = box(page, "#chat-scroll")
                assert summary["y"] < height, ("summary below the first screen", width, summary)
                assert reply["y"] + 40 < height, ("reply box below the first screen", width, reply)
                assert reply["y"] < chat["y"], "the reply box should come before the transcript"
                # The transcript scrolls in its own box: the page stays short.
                page_height = page.evaluate("document.documentElement.scrollHeight")
                assert page_height < 7 * height, (width, page_height)
                # The transcript box opens on its newest line.
                assert page.evaluate(
                    "(() => { const c = document.getElementById('chat-scroll');"
                    " return c.scrollHeight > c.clientHeight"
                    " && c.scrollTop + c.clientHeight >= c.scrollHeight - 2; })()"
                )
                page.screenshot(path=str(screenshots / f"case-{width}.png"))

            # --- crisis alerts -----------------------------------------------------------
            page.set_viewport_size({"width": 1366, "height": 900})
            page.goto(f"{service.base_url}/admin/")
            expect(page.locator(".crisis-alert")).to_contain_text("緊急の相談が")
            assert page.evaluate("window.__asked") == 0, "permission asked on load"
            assert page.locator("#queue-live [role=alert]").count() == 0
            poll(page)
            poll(page)
            assert page.evaluate("window.__announced") == [], "re-announced on a poll"
            button = page.locator("#alerts-on")
            button.click()
            assert page.evaluate("window.__asked") == 1
            expect(page.locator("#alerts-state")).to_have_text("通知と音: オン")
            expect(button).to_have_attribute("aria-pressed", "true")
            beeps = page.evaluate("window.__beeps")

            fresh = make_case(database, urgency="crisis", consented=False, windows=["general_desk"])
            poll(page)
            page.wait_for_function("window.__notes.length === 1", timeout=15_000)
            note = page.evaluate("window.__notes[0]")
            assert note["title"] == f"緊急の相談 #{fresh}" and note["tag"].endswith(str(fresh))
            assert "家賃" not in note["body"] and "死" not in note["body"]
            assert page.evaluate("window.__beeps") > beeps
            announced = page.evaluate("window.__announced")
            assert len(announced) == 1 and f"#{fresh}" in announced[0]
            assert f"#{first_crisis}" not in announced[0]  # it was already on the page
            beeps = page.evaluate("window.__beeps")
            for _ in range(3):
                poll(page)
            assert page.evaluate("window.__notes.length") == 1
            assert page.evaluate("window.__beeps") == beeps
            assert len(page.evaluate("window.__announced")) == 1
            # Another new one: exactly one more of each.
            third = make_case(database, urgency="crisis", consented=False, windows=["general_desk"])
            poll(page)
            page.wait_for_function("window.__notes.length === 2", timeout=15_000)
            assert page.evaluate("window.__notes[1].title") == f"緊急の相談 #{third}"
            assert len(page.evaluate("window.__announced")) == 2
            assert page.title().startswith("【緊急あり】")
            # A reload remembers the opt-in and announces nothing new by itself.
            page.reload()
            expect(page.locator("#alerts-state")).to_have_text("通知と音: オン")
            assert page.evaluate("window.__asked") == 0 and page.evaluate("window.__notes") == []

            # --- a 居場所 date added and cancelled from the slots page --------------------
            day = open_days(1)[0]
            page.goto(f"{service.base_url}/admin/slots?service=ibasho&from={day.isoformat()}")
            add = page.locator("form[action='/admin/slots/sessions']")
            add.locator("input[name=day]").fill(day.isoformat())
            add.locator("input[name=capacity]").fill("8")
            add.locator("button[type=submit]").click()
            expect(page.locator(".flash")).to_contain_text("日程を追加しました")
            expect(page.locator("table.small tbody")).to_contain_text("0 / 8")
            page.screenshot(path=str(screenshots / "slots-session.png"))
            page.locator("button:has-text('この回を中止する')").first.click()
            expect(page.locator(".flash")).to_contain_text("この回を中止しました")
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()
