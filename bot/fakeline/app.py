"""The fake Messaging API as an ASGI app: validates every request like LINE, answers like LINE.

Order of checks for reply/push/loading: Authorization → JSON → the SDK's request model →
LINE's documented limits → the OpenAPI spec (when present) → injected faults → retry key
(409 when already accepted) → reply token (once) → accept and record.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.fakeline import limits, openapi, richmenu
from bot.fakeline.state import FakeLineState
from bot.line_api import check_request_body

PATHS = {
    "reply": "/v2/bot/message/reply",
    "push": "/v2/bot/message/push",
    "loading": "/v2/bot/chat/loading/start",
}
#: LINE IDs: U (user), C (group), R (room) and 32 hex digits; loading works in 1:1 chats only.
_CHAT_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _answer(status: int, body: dict[str, Any], **headers: str) -> JSONResponse:
    headers["x-line-request-id"] = headers.get("x-line-request-id") or uuid.uuid4().hex
    return JSONResponse(body, status_code=status, headers=headers)


def create_fake_line_app(
    state: FakeLineState | None = None, *, openapi_check: bool | None = None
) -> Starlette:
    """An ASGI app serving the fake LINE API on `state` (a fresh one if None).

    openapi_check: None = use ../shared/line-openapi/messaging-api.yml when present,
    False = SDK models and documented limits only, True = the spec is required.
    The state is reachable as `app.state.fake`.
    """
    state = state if state is not None else FakeLineState()
    validator = openapi.load_validator() if openapi_check in (None, True) else None
    if openapi_check is True and validator is None:
        raise RuntimeError("the LINE OpenAPI spec (or openapi-core) is not available")

    async def line_endpoint(request: Request, endpoint: str) -> JSONResponse:
        arrived = time.monotonic()
        raw = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        retry_key = headers.get("x-line-retry-key")

        def refuse(status: int, reason: str, user_id: str | None = None) -> JSONResponse:
            state.record_violation(endpoint, reason)
            state.record_request(endpoint, status, user_id, retry_key, arrived)
            message = (
                "Authentication failed. Confirm that the access token in the authorization "
                "header is valid."
                if status == 401
                else "The request body has 1 error(s)"
            )
            return _answer(status, {"message": message, "details": [{"message": reason}]})

        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            return refuse(401, "missing or malformed Authorization: Bearer header")
        if not headers.get("content-type", "").startswith("application/json"):
            return refuse(400, "Content-Type must be application/json")
        try:
            body = json.loads(raw)
        except ValueError:
            return refuse(400, "body is not JSON")
        user_id: str | None = None
        if isinstance(body, dict):
            found = body.get("to") if endpoint == "push" else body.get("chatId")
            user_id = found if isinstance(found, str) else None
        problems: list[str] = []
        try:
            check_request_body(endpoint, body)
        except Exception as exc:
            problems.append(f"sdk: {type(exc).__name__}: {exc}"[:500])
        if isinstance(body, dict):
            messages = body.get("messages")
            if endpoint != "loading" and isinstance(messages, list):
                problems.extend(limits.check_messages(messages))
            if endpoint == "loading":
                seconds = body.get("loadingSeconds", 20)
                if not isinstance(seconds, int) or seconds % 5 or not 5 <= seconds <= 60:
                    problems.append("loadingSeconds must be 5..60 in steps of 5")
        if endpoint in ("push", "loading"):
            pattern = _USER_ID if endpoint == "loading" else _CHAT_ID
            if not isinstance(user_id, str) or not pattern.match(user_id):
                problems.append("to/chatId is not a LINE user, group or room ID")
        if retry_key is not None and (endpoint == "reply" or not _UUID.match(retry_key)):
            problems.append("X-Line-Retry-Key must be a UUID, and only on push")
        if validator is not None:
            reason = openapi.check(
                validator, path=PATHS[endpoint], method="post", body=raw, headers=headers
            )
            if reason:
                problems.append(reason)
        if problems:
            return refuse(400, "; ".join(problems), user_id)
        assert isinstance(body, dict)

        fault = state.take_fault(endpoint)
        if fault.fail_status is not None:
            state.record_request(endpoint, fault.fail_status, user_id, retry_key, arrived)
            extra = {}
            if fault.retry_after is not None:
                extra["Retry-After"] = f"{fault.retry_after:g}"
            return _answer(fault.fail_status, {"message": "injected failure"}, **extra)
        if fault.hang_seconds and not fault.deliver:
            await asyncio.sleep(fault.hang_seconds)
            state.record_request(endpoint, 504, user_id, retry_key, arrived)
            return _answer(504, {"message": "injected timeout"})

        if endpoint == "loading":
            state.record_loading(str(user_id), int(body.get("loadingSeconds", 20)))
            state.record_request(endpoint, 202, user_id, None, arrived)
            return _answer(202, {})

        request_id = uuid.uuid4().hex
        reply_token: str | None = None
        if endpoint == "reply":
            reply_token = str(body["replyToken"])
            accepted, user_id = state.use_reply_token(reply_token)
            if not accepted:
                state.record_request(endpoint, 400, user_id, None, arrived)
                return _answer(
                    400, {"message": "Invalid reply token"}, **{"x-line-request-id": request_id}
                )
        sent = state.deliver(
            via=endpoint,
            user_id=user_id,
            messages=list(body["messages"]),
            retry_key=retry_key,
            reply_token=reply_token,
            request_id=request_id,
        )
        if sent is None:
            assert retry_key is not None
            first = state.accepted_retry_key(retry_key)
            state.record_request(endpoint, 409, user_id, retry_key, arrived)
            return _answer(
                409,
                {
                    "message": "The retry key is already accepted",
                    "sentMessages": first[1] if first else [],
                },
                **{"x-line-accepted-request-id": first[0] if first else ""},
            )
        # Recorded before a hang so a test counts the try while the answer is still late.
        state.record_request(endpoint, 200, user_id, retry_key, arrived)
        if fault.hang_seconds:
            await asyncio.sleep(fault.hang_seconds)
        return _answer(200, {"sentMessages": sent}, **{"x-line-request-id": request_id})

    async def reply(request: Request) -> JSONResponse:
        return await line_endpoint(request, "reply")

    async def push(request: Request) -> JSONResponse:
        return await line_endpoint(request, "push")

    async def loading(request: Request) -> JSONResponse:
        return await line_endpoint(request, "loading")

    async def chat_messages(request: Request) -> JSONResponse:
        """For the simulator: messages to one user after seq N (poll with the last seq)."""
        user_id = request.path_params["user_id"]
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            after = 0
        chat = state.chat_after(user_id, after)
        return JSONResponse(
            {
                "messages": [{"seq": c.seq, "via": c.via, "message": c.message} for c in chat],
                "last": chat[-1].seq if chat else after,
            }
        )

    async def new_reply_token(request: Request) -> JSONResponse:
        """For the simulator: a reply token for the next webhook event of a user."""
        try:
            body = await request.json()
            user_id = str(body["userId"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"message": "userId required"}, status_code=400)
        return JSONResponse({"replyToken": state.issue_reply_token(user_id)})

    async def unknown(request: Request) -> JSONResponse:
        state.record_violation("unknown", f"{request.method} {request.url.path} is not served")
        return _answer(404, {"message": "Not found"})

    routes = [
        Route(PATHS["reply"], reply, methods=["POST"]),
        Route(PATHS["push"], push, methods=["POST"]),
        Route(PATHS["loading"], loading, methods=["POST"]),
        Route("/_fake/messages/{user_id}", chat_messages, methods=["GET"]),
        Route("/_fake/reply-token", new_reply_token, methods=["POST"]),
        *richmenu.routes(state, validator),
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.fake = state
    return app
