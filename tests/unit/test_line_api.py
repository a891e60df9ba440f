"""bot.line_api without a network: every kind of message we send goes through the SDK's
models unchanged; bad messages are caught without quoting content; HTTP outcomes classify."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from bot.fakeline import limits
from bot.line_api import (
    InvalidMessages,
    _classify,
    check_request_body,
    parse_retry_after,
    to_sdk_messages,
    validate_messages,
)
from bot.worker.sender import SenderConfig, backoff_delay

POSTBACK = {"type": "postback", "label": "住まい", "data": "start=housing", "displayText": "住まい"}
MESSAGE_ACTION = {"type": "message", "label": "はい", "text": "はい"}
URI_ACTION = {"type": "uri", "label": "電話する", "uri": "tel:0000000000"}
WEB_ACTION = {"type": "uri", "label": "地図", "uri": "https://example.org/map"}
DATETIME_ACTION = {
    "type": "datetimepicker",
    "label": "日時を選ぶ",
    "data": "pick=1",
    "mode": "datetime",
}


def bubble(*, footer: bool = True) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "bubble",
        "size": "kilo",
        "header": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": "福祉総合相談窓口", "weight": "bold"}],
        },
        "body": {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {"type": "text", "text": "お金や仕事のこと", "wrap": True, "size": "sm"},
                {"type": "separator", "margin": "md"},
                {
                    "type": "box",
                    "layout": "baseline",
                    "contents": [
                        {
                            "type": "text",
                            "text": "電話",
                            "size": "xs",
                            "color": "#888888",
                            "flex": 2,
                        },
                        {"type": "text", "text": "000-000-0000", "size": "sm", "flex": 7},
                    ],
                },
            ],
        },
    }
    if footer:
        card["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {"type": "button", "style": "primary", "height": "sm", "action": POSTBACK},
                {"type": "button", "style": "link", "height": "sm", "action": URI_ACTION},
            ],
        }
    return card


MESSAGES_WE_SEND: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": "こんにちは。まるごと相談です。"},
    "text with quick replies": {
        "type": "text",
        "text": "どんなことで困っていますか？",
        "quickReply": {
            "items": [
                {"type": "action", "action": action}
                for action in (POSTBACK, MESSAGE_ACTION, URI_ACTION, DATETIME_ACTION)
            ]
        },
    },
    "flex bubble": {"type": "flex", "altText": "窓口のご案内", "contents": bubble()},
    "flex carousel": {
        "type": "flex",
        "altText": "窓口のご案内（2件）",
        "contents": {"type": "carousel", "contents": [bubble(), bubble(footer=False)]},
    },
    "flex with quick replies": {
        "type": "flex",
        "altText": "ご案内",
        "contents": bubble(),
        "quickReply": {"items": [{"type": "action", "action": MESSAGE_ACTION}]},
    },
    "confirm template": {
        "type": "template",
        "altText": "共有してよいですか",
        "template": {
            "type": "confirm",
            "text": "共有してよいですか？",
            "actions": [
                {"type": "postback", "label": "はい", "data": "consent=yes"},
                {"type": "postback", "label": "いいえ", "data": "consent=no"},
            ],
        },
    },
    "buttons template": {
        "type": "template",
        "altText": "ご案内",
        "template": {
            "type": "buttons",
            "text": "どうしますか？",
            "actions": [POSTBACK, WEB_ACTION],
        },
    },
}


@pytest.mark.parametrize("name", list(MESSAGES_WE_SEND))
def test_each_message_kind_round_trips_through_the_sdk(name: str) -> None:
    message = MESSAGES_WE_SEND[name]
    [model] = to_sdk_messages([message])
    assert model.to_dict() == message  # nothing dropped or renamed on the way to LINE
    assert limits.check_messages([message]) == []


def test_five_messages_is_the_most_per_request() -> None:
    validate_messages([MESSAGES_WE_SEND["text"]] * 5)
    with pytest.raises(InvalidMessages):
        validate_messages([MESSAGES_WE_SEND["text"]] * 6)
    with pytest.raises(InvalidMessages):
        validate_messages([])


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "text"},
        {"type": "text", "text": 42},
        {"type": "no-such-type", "text": "ひみつ"},
        {"text": "ひみつ"},
        {"type": "flex", "altText": "ひみつ", "contents": {"type": "bubble", "body": "x"}},
        {"type": "text", "text": "ひみつ", "quickReply": {"items": [{"type": "action"}] * 14}},
    ],
)
def test_invalid_messages_are_refused_without_quoting_content(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessages) as caught:
        to_sdk_messages([{"type": "text", "text": "ok"}, bad])
    assert "message 1" in str(caught.value)
    assert "ひみつ" not in str(caught.value)


def test_request_bodies_checked_with_sdk_request_models() -> None:
    check_request_body("push", {"to": "U1", "messages": [MESSAGES_WE_SEND["text"]]})
    check_request_body("reply", {"replyToken": "t", "messages": [MESSAGES_WE_SEND["flex bubble"]]})
    check_request_body("loading", {"chatId": "U1", "loadingSeconds": 20})
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises several kinds
        check_request_body("push", {"to": "U1", "messages": [{"type": "text"}]})
    with pytest.raises(Exception):  # noqa: B017
        check_request_body("reply", {"messages": [MESSAGES_WE_SEND["text"]]})


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "ok"),
        (202, "ok"),
        (409, "already_accepted"),
        (429, "retryable"),
        (500, "retryable"),
        (502, "retryable"),
        (503, "retryable"),
        (400, "rejected"),
        (401, "rejected"),
        (403, "rejected"),
        (404, "rejected"),
    ],
)
def test_status_codes_classify(status: int, outcome: str) -> None:
    result = _classify(status, {"x-line-request-id": "abc"})
    assert (result.outcome, result.status, result.request_id) == (outcome, status, "abc")
    assert result.delivered == (outcome in ("ok", "already_accepted"))


def test_retry_after_seconds_and_http_date() -> None:
    assert _classify(429, {"Retry-After": "7"}).retry_after == 7.0
    now = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0.0


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    config = SenderConfig(backoff_base_seconds=2, backoff_cap_seconds=60)
    rng = random.Random(7)
    for attempts in range(1, 12):
        step = min(60, 2 * 2 ** (attempts - 1))
        delay = backoff_delay(attempts, config, rng)
        assert step / 2 <= delay <= step
    # Successive tries never wait less than the one before (each step doubles until the cap).
    low = [backoff_delay(a, config, random.Random(0)) for a in range(1, 6)]
    assert low == sorted(low)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"type": "text", "text": "あ" * 5001}, "text longer"),
        ({"type": "text", "text": "😀" * 2501}, "text longer"),  # 5002 UTF-16 units
        ({"type": "text", "text": "   "}, "non-empty"),
        (
            {
                "type": "text",
                "text": "x",
                "quickReply": {
                    "items": [{"type": "action", "action": {**POSTBACK, "label": "あ" * 21}}]
                },
            },
            "label",
        ),
        ({"type": "flex", "altText": "あ" * 1501, "contents": bubble()}, "altText"),
        (
            {
                "type": "text",
                "text": "x",
                "quickReply": {
                    "items": [{"type": "action", "action": {**POSTBACK, "data": "d" * 301}}]
                },
            },
            "postback data",
        ),
        (
            {
                "type": "flex",
                "altText": "a",
                "contents": {"type": "carousel", "contents": [bubble()] * 13},
            },
            "more than 12",
        ),
        (
            {
                "type": "text",
                "text": "x",
                "quickReply": {
                    "items": [
                        {"type": "action", "action": {**URI_ACTION, "uri": "javascript:alert(1)"}}
                    ]
                },
            },
            "scheme",
        ),
    ],
)
def test_documented_limits_the_sdk_does_not_check(message: dict[str, Any], problem: str) -> None:
    problems = limits.check_messages([message])
    assert any(problem in p for p in problems), problems


def test_limits_at_the_edge_pass() -> None:
    assert limits.check_messages([{"type": "text", "text": "あ" * 5000}]) == []
    assert (
        limits.check_messages([{"type": "flex", "altText": "あ" * 1500, "contents": bubble()}])
        == []
    )
    items = [{"type": "action", "action": {**POSTBACK, "label": "あ" * 20}}] * 13
    assert (
        limits.check_messages([{"type": "text", "text": "x", "quickReply": {"items": items}}]) == []
    )
