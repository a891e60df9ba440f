"""The /simulator page in a real headless Chromium, against `marugoto serve` in demo mode.

Everything is real: the page posts to /simulator/send, which signs a LINE webhook body and
POSTs it over HTTP to /line/webhook; the worker answers through the built-in fake LINE API
(which validates every request with the SDK's models); the page polls what LINE received.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = Path("/tmp/simulator.png")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`marugoto serve` in demo mode on a free port, as a subprocess."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("simulator")
    env = {
        **os.environ,
        "MARUGOTO_DEMO": "1",
        "MARUGOTO_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'demo.db'}",
        "PYTHONPATH": str(REPO),
    }
    for name in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_API_BASE_URL"):
        env.pop(name, None)
    script = Path(sys.executable).with_name("marugoto")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError((workdir / "serve.log").read_text(errors="replace")[-3000:])
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("marugoto serve did not become healthy")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def test_simulator_follow_rent_quick_reply_and_crisis(chromium: str, server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="ja-JP"
            )
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server + "/simulator")
            expect(page.locator("#start")).to_be_visible()

            # follow: the greeting, the privacy notice and the start points
            page.locator("#start button").click()
            bot = page.locator(".row.bot")
            expect(bot.filter(has_text="友だち追加、ありがとうございます")).to_have_count(1)
            expect(bot.filter(has_text="個人情報について")).to_have_count(1)
            expect(page.locator("#quick .chip", has_text="お金・仕事")).to_be_visible()

            # a worry in words → the window, as a Flex card with the desk's phone
            page.fill("#input", "家賃が払えない")
            page.click("#send")
            card = page.locator(".row.bot .flex-bubble", has_text="住居確保給付金")
            expect(card).to_be_visible(timeout=15_000)
            expect(card).to_contain_text("042-386-0295")
            expect(card).to_contain_text("予約制")
            expect(page.locator("#quick .chip", has_text="相談員に連絡してほしい")).to_be_visible()
            page.screenshot(path=str(SCREENSHOT.with_name("simulator-answer.png")))

            # tap a quick reply: the postback goes through the webhook too
            page.locator("#quick .chip", has_text="ほかの窓口").click()
            expect(page.locator(".row.user", has_text="ほかの窓口")).to_have_count(1)
            expect(bot.filter(has_text="ほかにも、いろいろな 窓口が あります")).to_have_count(
                1, timeout=15_000
            )
            page.locator("#quick .chip", has_text="高齢・介護").click()
            expect(page.locator(".flex-bubble", has_text="地域包括支援センター")).to_be_visible(
                timeout=15_000
            )

            # crisis: the first answer names who can help now
            before = bot.count()
            page.fill("#input", "死にたい")
            page.click("#send")
            crisis = bot.filter(has_text="あなたの ことが 心配です")
            expect(crisis).to_have_count(1, timeout=15_000)
            assert bot.nth(before).inner_text() == crisis.inner_text()  # first after the text
            expect(crisis).to_contain_text("0120-279-338")
            assert crisis.locator("a[href='tel:0120279338']").count() == 1
            expect(page.locator("#quick .chip")).to_have_count(1)  # only: 相談員に連絡してほしい
            page.screenshot(path=str(SCREENSHOT), full_page=False)
            assert errors == []
        finally:
            browser.close()


def test_simulator_other_day_is_a_date_picker_not_a_prompt(chromium: str, server: str) -> None:
    """Issue 10: ほかの日 opens a picker in the page (no browser prompt()); a closed day keeps
    the resident in the booking flow with the nearest open days."""
    from datetime import date, timedelta

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="ja-JP")
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server + "/simulator")
            page.locator("#start button").click()
            expect(page.locator("#quick .chip", has_text="お金・仕事")).to_be_visible()
            page.fill("#input", "予約したい")
            page.click("#send")
            page.locator("#quick .chip", has_text="相談").first.click(timeout=15_000)
            other = page.locator("#quick .chip", has_text="ほかの日")
            expect(other).to_be_visible(timeout=15_000)
            other.click()
            picker = page.locator("#quick input#picker[type=date]")
            expect(picker).to_be_visible()
            low = date.fromisoformat(picker.get_attribute("min") or "")
            high = date.fromisoformat(picker.get_attribute("max") or "")
            saturday = low + timedelta(days=(5 - low.weekday()) % 7)
            assert low <= saturday <= high
            picker.fill(saturday.isoformat())
            page.locator("#picker-ok").click()
            bot = page.locator(".row.bot")
            expect(bot.filter(has_text="空きがありません")).to_have_count(1, timeout=15_000)
            # Still in the flow: the nearest open days, and ほかの日 again.
            expect(page.locator("#quick .chip", has_text="ほかの日")).to_be_visible()
            assert page.locator("#quick .chip").count() >= 3
            assert dialogs == [] and errors == []
        finally:
            browser.close()
