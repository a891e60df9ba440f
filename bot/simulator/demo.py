"""Demo settings: a fake LINE API in this process, and a channel secret to sign with."""

from __future__ import annotations

import logging
import secrets
import threading

from pydantic import SecretStr

from bot.settings import Settings

log = logging.getLogger("marugoto.simulator")

_lock = threading.Lock()
_fake_line: object | None = None  # the FakeLine started for this process (one is enough)


def demo_settings(settings: Settings) -> Settings:
    """`settings` pointed at a built-in fake LINE (started once per process on 127.0.0.1),
    with a demo channel secret and token when none are set. Demo mode never talks to the
    real LINE, even if real credentials are in the environment."""
    global _fake_line
    from bot.fakeline import FakeLine

    with _lock:
        if _fake_line is None:
            _fake_line = FakeLine().start()
            log.info("demo mode: fake LINE API on %s", _fake_line.base_url)
        fake = _fake_line
    assert isinstance(fake, FakeLine)
    update: dict[str, object] = {"line_api_base_url": fake.base_url}
    if settings.line_channel_secret is None:
        update["line_channel_secret"] = SecretStr(secrets.token_hex(16))
    if settings.line_channel_access_token is None:
        update["line_channel_access_token"] = SecretStr("demo-" + secrets.token_hex(16))
    return settings.model_copy(update=update)
