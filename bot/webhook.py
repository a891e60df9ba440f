"""LINE webhook ingress: size cap → signature over the raw bytes → parse → store → 200.

The order is the point (TESTING.md A): nothing is parsed before the signature matches, and
nothing is acknowledged before the events are committed. The webhook runs no triage beyond
the cheap crisis check (to queue crisis events first) and makes no LINE call, so it answers
within LINE's 2 s whatever the worker is doing.

Text rules (TESTING.md B1, B5), applied before storage so SQLite and PostgreSQL (whose JSONB
refuses U+0000) store the same thing:
- U+0000 (NUL) anywhere in a string is replaced by U+FFFD; every other character is kept
  byte-identical (ZWJ sequences, 𠮷, combining marks, bidi controls).
- A lone surrogate (only possible through a `\\ud800`-style escape; LINE sends UTF-8) makes
  the body invalid: 400, nothing stored. Invalid UTF-8 is a 400 too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from bot.actions.inbox import IncomingEvent, store_events
from bot.db import Database, ingest_priority

log = logging.getLogger("marugoto.webhook")

SIGNATURE_HEADER = "x-line-signature"
MAX_ID_LENGTH = 64
NUL_REPLACEMENT = "\ufffd"


class BadRequest(Exception):
    """The body is signed but is not a webhook body we can store (→ 400)."""


def sign(secret: str | bytes, body: bytes) -> str:
    """base64(HMAC-SHA256(channel secret, body)) — what LINE puts in X-Line-Signature."""
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def signature_ok(secret: str | bytes, body: bytes, header_values: list[str]) -> bool:
    """Exactly one header, valid base64, equal (in constant time) to the HMAC of `body`."""
    if len(header_values) != 1 or not header_values[0]:
        return False
    try:
        given = base64.b64decode(header_values[0].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    key = secret.encode() if isinstance(secret, str) else secret
    expected = hmac.new(key, body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


async def read_capped(request: Request, max_bytes: int) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed `max_bytes` (rest unread)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                return None
        except ValueError:
            raise BadRequest("content-length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _clean(value: Any) -> Any:
    """NUL → U+FFFD in every string (keys too); refuse lone surrogates."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("lone surrogate") from None
        return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _short_str(value: Any, limit: int) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= limit:
        return value
    return None


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """The events of a signed body, cleaned; BadRequest when it is not a webhook body."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("json") from None
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise BadRequest("shape")
    events: list[dict[str, Any]] = _clean(document["events"])
    for event in events:
        if not isinstance(event, dict):
            raise BadRequest("event")
        if _short_str(event.get("webhookEventId"), MAX_ID_LENGTH) is None:
            raise BadRequest("webhookEventId")
        if not isinstance(event.get("type"), str) or not event["type"]:
            raise BadRequest("type")
        timestamp = event.get("timestamp")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
            raise BadRequest("timestamp")
    return events


def to_incoming(event: dict[str, Any], crisis_check: Callable[[str], bool] | None) -> IncomingEvent:
    """One LINE event as an inbox row. Only 1:1 chats in active mode are answered."""
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    assert isinstance(source, dict)
    user_id = _short_str(source.get("userId"), MAX_ID_LENGTH)
    mode = event.get("mode") if isinstance(event.get("mode"), str) else "active"
    delivery = event.get("deliveryContext")
    redelivery = isinstance(delivery, dict) and delivery.get("isRedelivery") is True
    answerable = mode == "active" and source.get("type") == "user" and user_id is not None
    priority = 5
    message = event.get("message")
    if (
        answerable
        and crisis_check is not None
        and event["type"] == "message"
        and isinstance(message, dict)
        and isinstance(message.get("text"), str)
        and crisis_check(message["text"])
    ):
        priority = 0
    try:
        when = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadRequest("timestamp") from None
    return IncomingEvent(
        webhook_event_id=event["webhookEventId"],
        line_user_id=user_id,
        event_type=event["type"][:32],
        mode=str(mode)[:16],
        is_redelivery=redelivery,
        event_timestamp=when,
        payload=event,
        reply_token=_short_str(event.get("replyToken"), 255),
        status="pending" if answerable else "ignored",
        priority=priority,
    )


def crisis_check(text: str) -> bool:
    """The triage's cheap crisis layer (normalise + bounded patterns, no dictionary): true
    when the message reads as a crisis, so its event is queued first (priority 0)."""
    from triage.crisis import check
    from triage.normalise import normalise

    return check(normalise(text)).urgency == "crisis"


#: Bodies up to this size are parsed on the event loop; bigger ones in a thread.
INLINE_PARSE_BYTES = 16 * 1024


def _parse(body: bytes, crisis: Callable[[str], bool] | None) -> list[IncomingEvent]:
    return [to_incoming(event, crisis) for event in parse_events(body)]


class IngestQueue:
    """Group commit: requests that arrive while a write is in progress are stored together
    in the next transaction (one per body's statement, one COMMIT for all), and each request
    answers once that commit is done. Under load the webhook then takes the database's write
    lock once per round instead of once per request."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: list[tuple[list[IncomingEvent], asyncio.Future[int]]] = []
        self._draining = False

    async def store(self, incoming: list[IncomingEvent]) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((incoming, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    counts = await run_in_threadpool(self._write, [b for b, _ in batch])
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), stored in zip(batch, counts, strict=True):
                    if not future.done():
                        future.set_result(stored)
        finally:
            self._draining = False

    def _write(self, bodies: list[list[IncomingEvent]]) -> list[int]:
        with ingest_priority(), self.database.write_engine.begin() as connection:
            return [store_events(connection, incoming) for incoming in bodies]


async def line_webhook(request: Request) -> Response:
    state = request.app.state
    secret = state.settings.line_channel_secret
    if secret is None:
        log.error("webhook refused: LINE_CHANNEL_SECRET is not set")
        return JSONResponse({"error": "not configured"}, status_code=503)
    try:
        body = await read_capped(request, state.settings.webhook_max_bytes)
    except BadRequest:
        return JSONResponse({"error": "bad request"}, status_code=400)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        log.warning("webhook refused: body over %d bytes", state.settings.webhook_max_bytes)
        return JSONResponse(
            {"error": "too large"}, status_code=413, headers={"Connection": "close"}
        )
    if not signature_ok(secret.get_secret_value(), body, request.headers.getlist(SIGNATURE_HEADER)):
        log.warning("webhook refused: bad signature")
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    try:
        if len(body) <= INLINE_PARSE_BYTES:
            incoming = _parse(body, state.crisis_check)
        else:
            incoming = await run_in_threadpool(_parse, body, state.crisis_check)
    except BadRequest as error:
        log.warning("webhook refused: malformed body (%s)", error.args[0])
        return JSONResponse({"error": "bad request"}, status_code=400)
    if not incoming:
        return JSONResponse({})  # a verify ping, or nothing to store
    try:
        stored = await state.ingest.store(incoming)
    except SQLAlchemyError as error:
        log.error("webhook not stored: database error %s", type(error).__name__)
        return JSONResponse({"error": "unavailable"}, status_code=503)
    if stored:
        wake: Callable[[int, bool], None] | None = getattr(state, "wake_inbox", None)
        if wake is not None:
            wake(stored, any(event.priority == 0 for event in incoming))
    return JSONResponse({})
