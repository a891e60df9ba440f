"""bot.line_api's per-message validation cache: a message the SDK models accepted once is not
walked again, but nothing invalid ever gets through because of the cache, the request limits
are checked every time, and the request body is exactly the messages' JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.line_api import (
    InvalidMessages,
    _checked_array,
    _request_body,
    check_messages,
    check_messages_json,
    check_request_body,
)

CARD: dict[str, Any] = {
    "type": "flex",
    "altText": "まどぐち",
    "contents": {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": "福祉総合相談窓口", "wrap": True}],
        },
    },
}
BAD_CARD: dict[str, Any] = {**CARD, "contents": {"type": "bubble", "body": "x"}}
TEXT = {"type": "text", "text": "こんにちは"}


def test_a_cached_message_still_obeys_the_request_limits() -> None:
    check_messages([CARD])
    check_messages([CARD])  # from the cache
    with pytest.raises(InvalidMessages):
        check_messages([CARD] * 6)
    with pytest.raises(InvalidMessages):
        check_messages([])
    with pytest.raises(InvalidMessages):
        check_messages([{"text": "型がない"}])


def test_an_invalid_message_is_refused_even_next_to_cached_ones() -> None:
    check_messages([CARD, TEXT])
    for _ in range(2):  # failures are never cached as accepted
        with pytest.raises(InvalidMessages) as caught:
            check_messages([CARD, BAD_CARD])
        assert "まどぐち" not in str(caught.value)
    with pytest.raises(InvalidMessages):
        check_messages([{**TEXT, "text": 42}])


def test_the_body_is_the_checked_json() -> None:
    array = _checked_array([TEXT, CARD])
    body = json.loads(_request_body("replyToken", 'tok"en', array))
    assert body == {"replyToken": 'tok"en', "messages": [TEXT, CARD]}
    assert json.loads(_request_body("to", "U1", array))["to"] == "U1"


def test_stored_json_text_is_sent_as_it_is_and_checked_like_dicts() -> None:
    # What the outbox returns: SQLAlchemy's JSON text (ASCII escapes) or PostgreSQL's.
    for stored in (json.dumps([TEXT, CARD]), json.dumps([TEXT, CARD], ensure_ascii=False)):
        for _ in range(2):  # the second time from the cache
            assert check_messages_json(stored) == stored
            body = json.loads(_request_body("to", "U1", _checked_array(stored)))
            assert body["messages"] == [TEXT, CARD]
    for bad in (json.dumps([CARD, BAD_CARD]), json.dumps([CARD] * 6), "[", '{"type":"text"}'):
        for _ in range(2):  # never cached as accepted
            with pytest.raises(InvalidMessages) as caught:
                check_messages_json(bad)
            assert "まどぐち" not in str(caught.value)


def test_the_fake_lines_check_still_refuses_bad_bodies_after_caching() -> None:
    check_request_body("reply", {"replyToken": "t", "messages": [CARD]})
    check_request_body("reply", {"replyToken": "t", "messages": [CARD]})  # cached message
    with pytest.raises(ValueError):
        check_request_body("reply", {"replyToken": "t", "messages": [CARD, BAD_CARD]})
    with pytest.raises(ValueError):
        check_request_body("reply", {"replyToken": "t", "messages": [CARD] * 6})
    with pytest.raises(ValueError):
        check_request_body("reply", {"replyToken": 42, "messages": [CARD]})
    with pytest.raises(ValueError):
        check_request_body("push", {"messages": [CARD]})  # no recipient
