"""The fake LINE server itself: it must refuse what LINE refuses (else our other tests prove
nothing) and accept what LINE accepts, over real HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.fakeline import FakeLine, FakeLineState, create_fake_line_app, openapi
from bot.line_api import LineClient, SendResult, create_line_client
from bot.settings import Settings

pytestmark = pytest.mark.integration

TO = "U" + "0" * 32  # a well-formed user ID, so each case below fails for its own reason
AUTH = {"Authorization": "Bearer test-token", "Content-Type": "application/json"}


def user() -> str:
    return "U" + uuid.uuid4().hex


def text(body: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": body, **extra}


def quick_reply(*labels: str) -> dict[str, Any]:
    return {
        "items": [
            {
                "type": "action",
                "action": {"type": "postback", "label": label, "data": f"a={i}"},
            }
            for i, label in enumerate(labels)
        ]
    }


def flex_card() -> dict[str, Any]:
    return {
        "type": "flex",
        "altText": "福祉総合相談窓口のご案内",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {"type": "text", "text": "福祉総合相談窓口", "weight": "bold", "wrap": True},
                    {"type": "separator", "margin": "md"},
                    {"type": "text", "text": "生活のこと、まとめて相談できます", "wrap": True},
                ],
            },
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {
                        "type": "button",
                        "style": "primary",
                        "action": {
                            "type": "postback",
                            "label": "職員に連絡してほしい",
                            "data": "handoff=start",
                            "displayText": "職員に連絡してほしい",
                        },
                    },
                    {
                        "type": "button",
                        "action": {"type": "uri", "label": "電話する", "uri": "tel:0000000000"},
                    },
                ],
            },
        },
        "quickReply": quick_reply("お金・仕事", "住まい"),
    }


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    with FakeLine() as server:
        yield server


def with_client(
    base_url: str, fn: Callable[[LineClient], Awaitable[Any]], timeout: float = 2.0
) -> Any:
    async def main() -> Any:
        settings = Settings.model_validate(
            {"LINE_API_BASE_URL": base_url, "LINE_CHANNEL_ACCESS_TOKEN": "test-token"}
        )
        client = create_line_client(settings, timeout=timeout)
        try:
            return await fn(client)
        finally:
            await client.close()

    return asyncio.run(main())


def post(fake: FakeLine, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return httpx.post(f"{fake.base_url}{path}", json=body, headers=headers or AUTH, timeout=5)


# --- refusing what LINE refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"to": TO, "messages": [{"type": "text"}]}, "text missing"),
        ({"to": TO, "messages": []}, "no messages"),
        ({"to": TO, "messages": [text("x")] * 6}, "six messages"),
        ({"to": "Uabc", "messages": [text("x")]}, "not a LINE user ID"),
        ({"messages": [text("x")]}, "no recipient"),
        ({"to": TO, "messages": [{"type": "nope", "text": "x"}]}, "unknown type"),
        ({"to": TO, "messages": [text("あ" * 5001)]}, "text over 5000"),
        ({"to": TO, "messages": [text("😀" * 2501)]}, "5002 UTF-16 units"),
        ({"to": TO, "messages": [text("")]}, "empty text"),
        (
            {"to": TO, "messages": [text("x", quickReply=quick_reply(*"abcdefghijklmn"))]},
            "14 quick replies",
        ),
        (
            {"to": TO, "messages": [text("x", quickReply=quick_reply("あ" * 21))]},
            "label over 20",
        ),
        ({"to": TO, "messages": [{**flex_card(), "altText": "あ" * 1501}]}, "altText 1501"),
        (
            {"to": TO, "messages": [{"type": "flex", "altText": "a", "contents": {}}]},
            "flex without a container",
        ),
    ],
)
def test_invalid_push_is_400_and_a_violation(fake: FakeLine, body: Any, why: str) -> None:
    headers = {**AUTH, "X-Line-Retry-Key": str(uuid.uuid4())}
    response = post(fake, "/v2/bot/message/push", body, headers)
    assert response.status_code == 400, why
    assert response.json()["message"]
    assert len(fake.violations) == 1, why
    assert fake.deliveries == []


def test_the_cases_above_differ_from_a_valid_request_only_by_their_defect(
    fake: FakeLine,
) -> None:
    headers = {**AUTH, "X-Line-Retry-Key": str(uuid.uuid4())}
    response = post(fake, "/v2/bot/message/push", {"to": TO, "messages": [text("x")]}, headers)
    assert response.status_code == 200
    assert fake.violations == []


def test_missing_auth_is_401_and_a_violation(fake: FakeLine) -> None:
    response = post(
        fake,
        "/v2/bot/message/push",
        {"to": TO, "messages": [text("x")]},
        {"Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert fake.violations and fake.violations[0].endpoint == "push"


def test_not_json_and_bad_retry_key_are_refused(fake: FakeLine) -> None:
    response = httpx.post(
        f"{fake.base_url}/v2/bot/message/push", content=b"{not json", headers=AUTH, timeout=5
    )
    assert response.status_code == 400
    headers = {**AUTH, "X-Line-Retry-Key": "not-a-uuid"}
    response = post(fake, "/v2/bot/message/push", {"to": TO, "messages": [text("x")]}, headers)
    assert response.status_code == 400
    assert len(fake.violations) == 2
    assert fake.deliveries == []


def test_unknown_endpoint_is_a_violation(fake: FakeLine) -> None:
    response = post(fake, "/v2/bot/message/broadcast", {"messages": [text("x")]})
    assert response.status_code == 404
    assert fake.violations[0].endpoint == "unknown"


def test_loading_seconds_must_be_steps_of_five(fake: FakeLine) -> None:
    assert (
        post(fake, "/v2/bot/chat/loading/start", {"chatId": "U1", "loadingSeconds": 7}).status_code
        == 400
    )
    assert len(fake.violations) == 1
    to = user()
    result = with_client(fake.base_url, lambda c: c.show_loading(to, 20))
    assert result == SendResult("ok", 202, request_id=result.request_id)
    assert fake.loading_calls == [(to, 20)]


# --- accepting what LINE accepts ---------------------------------------------------------------


def test_valid_flex_and_quick_reply_are_accepted(fake: FakeLine) -> None:
    to = user()
    messages = [
        text("こんにちは", quickReply=quick_reply(*[f"選択{i}" for i in range(13)])),
        flex_card(),
    ]
    result = with_client(fake.base_url, lambda c: c.push(to, messages, str(uuid.uuid4())))
    assert result.outcome == "ok", fake.violations
    assert fake.violations == []
    assert fake.messages_to(to) == messages
    assert [d.via for d in fake.deliveries] == ["push"]


def test_limits_at_the_edge_are_accepted(fake: FakeLine) -> None:
    to = user()
    messages = [
        text("あ" * 5000),
        text("x", quickReply=quick_reply("あ" * 20)),
        {**flex_card(), "altText": "あ" * 1500},
    ]
    result = with_client(fake.base_url, lambda c: c.push(to, messages, str(uuid.uuid4())))
    assert result.outcome == "ok"
    assert fake.violations == []


def test_retry_key_already_accepted_is_409_and_delivered_once(fake: FakeLine) -> None:
    to, key = user(), str(uuid.uuid4())
    body = {"to": to, "messages": [text("一度だけ")]}
    headers = {**AUTH, "X-Line-Retry-Key": key}
    first = post(fake, "/v2/bot/message/push", body, headers)
    second = post(fake, "/v2/bot/message/push", body, headers)
    assert first.status_code == 200
    assert second.status_code == 409
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert second.json()["sentMessages"] == first.json()["sentMessages"]
    assert fake.messages_to(to) == [text("一度だけ")]
    assert fake.violations == []


def test_ten_racing_pushes_with_one_key_deliver_once(fake: FakeLine) -> None:
    to, key = user(), str(uuid.uuid4())

    async def race(client: LineClient) -> list[SendResult]:
        return list(await asyncio.gather(*(client.push(to, [text("x")], key) for _ in range(10))))

    results = with_client(fake.base_url, race)
    assert sorted(r.outcome for r in results) == ["already_accepted"] * 9 + ["ok"]
    assert len(fake.messages_to(to)) == 1


def test_a_failed_try_does_not_burn_the_retry_key(fake: FakeLine) -> None:
    to, key = user(), str(uuid.uuid4())
    fake.fail_next("push", status=500, times=2)
    statuses = [
        with_client(fake.base_url, lambda c: c.push(to, [text("x")], key)).status for _ in range(4)
    ]
    assert statuses == [500, 500, 200, 409]
    assert len(fake.messages_to(to)) == 1


def test_reply_token_works_once(fake: FakeLine) -> None:
    to = user()
    token = fake.issue_reply_token(to)

    async def twice(client: LineClient) -> list[SendResult]:
        return [await client.reply(token, [text("はい")]), await client.reply(token, [text("再")])]

    first, second = with_client(fake.base_url, twice)
    assert first.outcome == "ok"
    assert (second.outcome, second.status) == ("rejected", 400)
    assert fake.messages_to(to) == [text("はい")]
    assert fake.violations == []  # a spent token is LINE's answer, not our bug


def test_expired_and_rejected_reply_tokens(fake: FakeLine) -> None:
    to = user()
    expired = fake.issue_reply_token(to, ttl_seconds=-1.0)  # expired a second ago
    result = with_client(fake.base_url, lambda c: c.reply(expired, [text("x")]))
    assert result.status == 400
    fake.reject_reply_tokens()
    fresh = fake.issue_reply_token(to)
    result = with_client(fake.base_url, lambda c: c.reply(fresh, [text("x")]))
    assert result.status == 400
    assert fake.messages_to(to) == []


def test_strict_mode_refuses_unknown_reply_tokens() -> None:
    with FakeLine(strict_reply_tokens=True) as fake:
        result = with_client(fake.base_url, lambda c: c.reply("made-up", [text("x")]))
        assert result.status == 400
        assert fake.deliveries == []


def test_injected_429_carries_retry_after(fake: FakeLine) -> None:
    fake.fail_next("push", status=429, retry_after=7)
    result = with_client(fake.base_url, lambda c: c.push(user(), [text("x")], str(uuid.uuid4())))
    assert (result.outcome, result.status, result.retry_after) == ("retryable", 429, 7.0)
    assert fake.deliveries == []


def test_hang_times_out_the_client_and_keeps_the_delivery(fake: FakeLine) -> None:
    to, key = user(), str(uuid.uuid4())
    fake.hang_next("push", seconds=2.0)
    started = time.monotonic()
    result = with_client(fake.base_url, lambda c: c.push(to, [text("x")], key), timeout=0.3)
    assert result.outcome == "retryable" and result.error == "timeout"
    assert time.monotonic() - started < 1.5
    again = with_client(fake.base_url, lambda c: c.push(to, [text("x")], key))
    assert again.outcome == "already_accepted"
    assert len(fake.messages_to(to)) == 1


def test_hang_without_delivery_answers_504_late(fake: FakeLine) -> None:
    to = user()
    fake.hang_next("push", seconds=0.2, deliver=False)
    result = with_client(fake.base_url, lambda c: c.push(to, [text("x")], str(uuid.uuid4())))
    assert (result.outcome, result.status) == ("retryable", 504)
    assert fake.messages_to(to) == []


def test_messages_api_for_the_simulator(fake: FakeLine) -> None:
    to = user()
    token = httpx.post(f"{fake.base_url}/_fake/reply-token", json={"userId": to}, timeout=5).json()[
        "replyToken"
    ]

    async def send(client: LineClient) -> None:
        await client.reply(token, [text("一"), text("二")])
        await client.push(to, [text("三")], str(uuid.uuid4()))

    with_client(fake.base_url, send)
    page = httpx.get(f"{fake.base_url}/_fake/messages/{to}", timeout=5).json()
    assert [m["message"]["text"] for m in page["messages"]] == ["一", "二", "三"]
    assert [m["via"] for m in page["messages"]] == ["reply", "reply", "push"]
    later = httpx.get(
        f"{fake.base_url}/_fake/messages/{to}", params={"after": page["messages"][1]["seq"]}
    ).json()
    assert [m["message"]["text"] for m in later["messages"]] == ["三"]
    assert later["last"] == page["last"]


# --- mounted in another app (demo mode) ------------------------------------------------------


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


def test_mounted_under_a_prefix_in_another_app() -> None:
    state = FakeLineState()
    host = Starlette(routes=[Mount("/fake-line", app=create_fake_line_app(state))])
    server, thread, port = _serve(host)
    try:
        to = user()
        base = f"http://127.0.0.1:{port}/fake-line"
        result = with_client(base, lambda c: c.push(to, [flex_card()], str(uuid.uuid4())))
        assert result.outcome == "ok", state.violations
        assert state.messages_to(to) == [flex_card()]
        assert state.violations == []
        page = httpx.get(f"{base}/_fake/messages/{to}", timeout=5).json()
        assert page["messages"][0]["message"]["type"] == "flex"
    finally:
        server.should_exit = True
        thread.join(5)


# --- the two validation layers ---------------------------------------------------------------


def test_without_the_openapi_file_the_sdk_models_still_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv(openapi.ENV_VAR, str(tmp_path / "absent.yml"))
    assert openapi.spec_path() is None
    with FakeLine() as fake:
        headers = {**AUTH, "X-Line-Retry-Key": str(uuid.uuid4())}
        bad = post(
            fake, "/v2/bot/message/push", {"to": TO, "messages": [{"type": "text"}]}, headers
        )
        assert bad.status_code == 400
        good = with_client(
            fake.base_url, lambda c: c.push(user(), [flex_card()], str(uuid.uuid4()))
        )
        assert good.outcome == "ok"
        assert len(fake.violations) == 1


def test_openapi_layer_rejects_what_the_spec_rejects() -> None:
    validator = openapi.load_validator()
    if validator is None:
        pytest.skip("no ../shared/line-openapi/messaging-api.yml on this machine")
    headers = {"authorization": "Bearer t", "content-type": "application/json"}
    ok = openapi.check(
        validator,
        path="/v2/bot/message/push",
        method="post",
        body=b'{"to": "U1", "messages": [{"type": "text", "text": "x"}]}',
        headers=headers,
    )
    assert ok is None
    bad = openapi.check(
        validator,
        path="/v2/bot/message/push",
        method="post",
        body=b'{"to": "U1", "messages": []}',
        headers=headers,
    )
    assert bad is not None and bad.startswith("openapi:")
    unauthenticated = openapi.check(
        validator,
        path="/v2/bot/message/push",
        method="post",
        body=b'{"to": "U1", "messages": [{"type": "text", "text": "x"}]}',
        headers={"content-type": "application/json"},
    )
    assert unauthenticated is not None
