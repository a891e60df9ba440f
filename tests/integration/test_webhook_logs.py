"""TESTING.md B7 (no forged log lines) and E6 (no text, token, secret or password in logs),
with the service's own log format (bot.logging) capturing everything at DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.logging import SafeFormatter, exception_summary, neutralise, setup_logging
from tests.integration.conftest import (
    ACCESS_TOKEN,
    CHANNEL_SECRET,
    Service,
    SignedWebhook,
    new_user_id,
    wait_inbox_settled,
)

pytestmark = pytest.mark.integration

SENTINEL = "ZQX-LOG-SENTINEL-77"
PASSWORD = "pw-LOG-SENTINEL-horse-staple"
FORGED = "\n2026-01-01 00:00:00 ERROR marugoto.admin login ok user=admin\x1b[2K\x1b[31m"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    setup_logging(logging.DEBUG, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
        logging.getLogger("uvicorn.access").disabled = False


def test_b7_newlines_and_ansi_cannot_forge_a_line(log_stream: io.StringIO) -> None:
    log = logging.getLogger("marugoto.test")
    log.warning("resident wrote %s", FORGED)
    try:
        raise ValueError(f"sql failed [parameters: ('{SENTINEL}',)]")
    except ValueError:
        log.exception("round failed")
    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all("\x1b" not in line for line in lines)
    assert not any(line.startswith("2026-01-01") for line in lines)
    assert SENTINEL not in log_stream.getvalue()  # exception messages are never logged
    assert "ValueError at test_webhook_logs.py" in lines[1]
    assert neutralise("a\u2028b\u0085c\rd") == "a\\u2028b\\x85c\\rd"


def test_exception_summary_names_type_and_place_only() -> None:
    try:
        raise KeyError(SENTINEL)
    except KeyError as error:
        summary = exception_summary(error)
    assert summary.startswith("KeyError at test_webhook_logs.py:")
    assert SENTINEL not in summary


def test_e6_whole_flow_logs_no_text_tokens_secrets_or_passwords(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    log_stream: io.StringIO,
) -> None:
    service = start_service(MARUGOTO_ADMIN_USERNAME="admin", MARUGOTO_ADMIN_PASSWORD=PASSWORD)
    user = new_user_id()
    events = [
        signed_webhook.follow(user_id=user),
        signed_webhook.text(f"家賃が払えない {SENTINEL}{FORGED}", user_id=user),
        signed_webhook.text(f"もう死にたい {SENTINEL}", user_id=user),
        signed_webhook.media("image", user_id=user),
    ]
    reply_tokens = [e["replyToken"] for e in events if "replyToken" in e]
    for event in events:
        assert service.send(event).status_code == 200
    assert wait_inbox_settled(service.database)
    assert service.fake.wait_for_messages(user, 4, timeout=15)
    # Refused requests log too: with the text in a bad body and a forged signature header.
    body = signed_webhook.body(signed_webhook.text(SENTINEL))
    assert service.post(body, {"x-line-signature": "x" + SENTINEL}).status_code == 401
    service.stop()

    output = log_stream.getvalue()
    assert "answered" in output  # the log is not simply empty
    for secret in (SENTINEL, ACCESS_TOKEN, CHANNEL_SECRET, PASSWORD, "家賃", "死にたい"):
        assert secret not in output
    for token in reply_tokens:
        assert token not in output
    assert "\x1b" not in output
    assert not any(line.startswith("2026-01-01") for line in output.splitlines())


def test_safe_formatter_is_on_uvicorn_loggers(log_stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").error("bad header %s", "a\nb")
    assert log_stream.getvalue().count("\n") == 1
    assert any(isinstance(h.formatter, SafeFormatter) for h in logging.getLogger().handlers)
