"""The real headless Chromium for the browser tests: Debian's chromium, driven by Playwright
(never a browser download). Skipped without a Chromium unless MARUGOTO_REQUIRE_BROWSER is set
(as in CI), where a missing browser is a failure."""

from __future__ import annotations

import os
import shutil

import pytest

#: Flags that keep Chromium off the network this machine does not have.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str | None:
    for candidate in (
        os.environ.get("MARUGOTO_CHROMIUM"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        shutil.which("chromium"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("MARUGOTO_REQUIRE_BROWSER"):
            pytest.fail("MARUGOTO_REQUIRE_BROWSER is set but no Chromium was found")
        pytest.skip("no Chromium (run scripts/browser or set MARUGOTO_CHROMIUM)")
    return path
