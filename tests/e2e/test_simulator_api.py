"""The simulator's HTTP side without a browser: every kind of event it builds is signed,
accepted by the real webhook (200) and answered through the fake LINE API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.test_simulator import server  # noqa: F401  (the module's fixture)

# Through the real server over HTTP; in tests/e2e/ with the browser tests, marked like them.
pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def new_user() -> str:
    return "U" + uuid.uuid4().hex


def send(base: str, user: str, **body: Any) -> dict[str, Any]:
    answer = httpx.post(f"{base}/simulator/send", json={"userId": user, **body}, timeout=15)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def messages_after(base: str, user: str, after: int, *, at_least: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        answer = httpx.get(f"{base}/simulator/messages", params={"user": user, "after": after})
        assert answer.status_code == 200
        found: list[dict[str, Any]] = answer.json()["messages"]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_page_and_static_files_are_served(server: str) -> None:  # noqa: F811
    page = httpx.get(server + "/simulator")
    assert page.status_code == 200 and "Marugoto" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("simulator.js", "javascript"), ("simulator.css", "css")):
        static = httpx.get(f"{server}/simulator/static/{name}")
        assert static.status_code == 200 and kind in static.headers["content-type"]
    assert httpx.get(server + "/simulator/static/../__init__.py").status_code == 404


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"kind": "sticker"}, "文字で 教えてください"),
        ({"kind": "image"}, "文字で 教えてください"),
        ({"kind": "location"}, "位置情報は 使いません"),
        ({"kind": "postback", "data": "a=start&k=money"}, "お金や 仕事の ことですね"),
        ({"kind": "postback", "data": "garbage"}, "どんな ことで 困っていますか"),
        ({"kind": "text", "text": "削除"}, "消しますか"),
    ],
)
def test_each_kind_of_event_goes_through_the_signed_webhook(
    server: str,  # noqa: F811
    body: dict[str, Any],
    expected: str,
) -> None:
    user = new_user()
    assert send(server, user, **body)["webhook"] == 200
    found = messages_after(server, user, 0)
    assert expected in str(found[0]["message"])


def test_unfollow_is_accepted_and_answered_with_nothing(server: str) -> None:  # noqa: F811
    user = new_user()
    send(server, user, kind="follow")
    greeting = messages_after(server, user, 0, at_least=3)
    last = greeting[-1]["seq"]
    assert send(server, user, kind="unfollow")["webhook"] == 200
    # The signal that the worker has been past it: a later worry of someone else is answered.
    sentinel = new_user()
    send(server, sentinel, kind="text", text="家賃が払えない")
    assert messages_after(server, sentinel, 0)
    assert messages_after(server, user, last, at_least=0) == []


def test_bad_input_is_refused(server: str) -> None:  # noqa: F811
    bad_user = httpx.post(f"{server}/simulator/send", json={"userId": "x", "kind": "follow"})
    assert bad_user.status_code == 422
    bad_kind = httpx.post(f"{server}/simulator/send", json={"userId": new_user(), "kind": "beacon"})
    assert bad_kind.status_code == 422
    no_text = httpx.post(f"{server}/simulator/send", json={"userId": new_user(), "kind": "text"})
    assert no_text.status_code == 422
    assert httpx.get(f"{server}/simulator/messages", params={"user": "../x"}).status_code == 422
