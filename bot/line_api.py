"""The LINE Messaging API, as the rest of the bot sees it. The only importer of the LINE SDK.

One `LineClient` per process, created in the app's lifespan (`create_line_client`) inside the
running event loop and closed on shutdown (`await client.close()`). Every call has a short
timeout and never raises for an HTTP outcome: it returns a `SendResult` that the sender turns
into sent / retry later / dead letter.

Our messages are plain JSON dicts (what the conversation produces and the outbox stores);
they go through the SDK's own models (`Message.from_dict`, once per distinct message: see
`check_messages`) before leaving, so a message LINE would refuse is caught here as
`invalid_message` instead of being sent.

Nothing here logs message content or tokens: results carry status codes and short codes only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.messaging.models import Message
from yarl import URL

from bot.settings import Settings

log = logging.getLogger(__name__)

Outcome = Literal["ok", "already_accepted", "retryable", "rejected"]

REPLY_PATH = "/v2/bot/message/reply"
PUSH_PATH = "/v2/bot/message/push"
#: LINE accepts at most this many message objects per reply or push request.
MAX_MESSAGES_PER_REQUEST = 5
#: Used when no channel access token is configured (demo mode against the built-in fake).
_PLACEHOLDER_TOKEN = "marugoto-no-token"  # noqa: S105 - not a secret; a real LINE answers 401


class InvalidMessages(ValueError):
    """Our message JSON does not pass the SDK's models. The text says where, never what."""


class InvalidRichMenu(ValueError):
    """A rich menu definition the SDK's RichMenuRequest (or LINE's required fields) refuses."""


class LineCallFailed(RuntimeError):
    """A one-off management call (rich menu) did not succeed; carries the content-free
    `SendResult` (status, short code, LINE's request id)."""

    def __init__(self, what: str, result: SendResult) -> None:
        super().__init__(
            f"{what}: {result.error or result.outcome} (x-line-request-id {result.request_id})"
        )
        self.result = result


@dataclass(frozen=True)
class SendResult:
    """What happened to one API call, without content.

    outcome: ok (2xx) / already_accepted (409 on a retry key: LINE has it already) /
    retryable (429, 5xx, timeout, connection error: try again later with the same key) /
    rejected (any other 4xx, or a message our SDK models refuse: never retry).
    """

    outcome: Outcome
    status: int | None = None
    #: Seconds LINE asked us to wait (429 Retry-After), if it said.
    retry_after: float | None = None
    #: Short, content-free code for operators: "http_500", "timeout", "invalid_message"…
    error: str | None = None
    #: LINE's x-line-request-id, useful when asking LINE support about a request.
    request_id: str | None = None

    @property
    def delivered(self) -> bool:
        """True when LINE has the message (now or from an earlier attempt with this key)."""
        return self.outcome in ("ok", "already_accepted")


def to_sdk_messages(messages: list[dict[str, Any]]) -> list[Message]:
    """Convert our JSON messages through the SDK models (validates types and SDK limits)."""
    if not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
        raise InvalidMessages(f"{len(messages)} messages; LINE takes 1 to 5 per request")
    converted: list[Message] = []
    for index, message in enumerate(messages):
        try:
            converted.append(Message.from_dict(message))
        except Exception:  # the SDK's errors quote the content; keep only where it failed
            kind = message.get("type") if isinstance(message, dict) else None
            raise InvalidMessages(f"message {index} (type {kind!r}) fails the SDK model") from None
    return converted


def validate_messages(messages: list[dict[str, Any]]) -> None:
    """Raise InvalidMessages unless LINE's SDK accepts these messages. For tests and callers
    that want to fail early; the sender checks again before every call."""
    to_sdk_messages(messages)


#: Digests of message objects the SDK models have accepted. The conversation sends few
#: distinct shapes (the same card or text to many residents), and the SDK's pydantic walk of
#: a Flex message costs milliseconds: each distinct message is validated once per process.
#: Keyed by the message's canonical JSON (sorted keys), so any difference revalidates.
_ACCEPTED: dict[bytes, None] = {}
_ACCEPTED_MAX = 4096


def _digest(message: Any) -> bytes | None:
    try:
        canonical = json.dumps(message, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None  # not plain JSON: always the full check
    return hashlib.blake2b(canonical.encode(), digest_size=20).digest()


def check_messages(messages: list[dict[str, Any]]) -> list[str]:
    """The send path's check: the same verdict as `validate_messages` (SDK models), run in
    full once per distinct message; the request-level limits are checked every time.
    Returns each message's JSON text (what the request body is built from)."""
    if not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
        raise InvalidMessages(f"{len(messages)} messages; LINE takes 1 to 5 per request")
    parts: list[str] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise InvalidMessages(f"message {index} is not a typed message object")
        try:
            part = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            raise InvalidMessages(f"message {index} is not plain JSON") from None
        # Keyed by the JSON text as sent: another key order is only a cache miss.
        digest = hashlib.blake2b(part.encode(), digest_size=20).digest()
        if digest not in _ACCEPTED:
            try:
                Message.from_dict(message)
            except Exception:  # the SDK's errors quote the content; keep only where it failed
                kind = message.get("type")
                raise InvalidMessages(
                    f"message {index} (type {kind!r}) fails the SDK model"
                ) from None
            _remember(_ACCEPTED, digest)
        parts.append(part)
    return parts


def check_messages_json(array_json: str) -> str:
    """`check_messages` for a JSON array as text (what the outbox stores): the same verdict,
    decided in full once per distinct text. Returns the text, to be sent as it is, so a row
    the sender claims is neither parsed nor serialised again on the way out."""
    digest = hashlib.blake2b(b"[]" + array_json.encode(), digest_size=20).digest()
    if digest in _ACCEPTED:
        return array_json
    try:
        messages = json.loads(array_json)
    except ValueError:
        raise InvalidMessages("the messages are not JSON") from None
    if not isinstance(messages, list):
        raise InvalidMessages("the messages are not a JSON array")
    check_messages(messages)
    _remember(_ACCEPTED, digest)
    return array_json


def _checked_array(messages: list[dict[str, Any]] | str) -> str:
    if isinstance(messages, str):
        return check_messages_json(messages)
    return "[" + ",".join(check_messages(messages)) + "]"


def _request_body(key: str, value: str, array_json: str) -> bytes:
    """`{key: value, "messages": [...]}` as JSON bytes, from the checked messages' text."""
    head = json.dumps({key: value}, ensure_ascii=False, separators=(",", ":"))[:-1]
    return f'{head},"messages":{array_json}}}'.encode()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _classify(status: int, headers: Any) -> SendResult:
    request_id = headers.get("x-line-request-id") if headers is not None else None
    if 200 <= status < 300:
        return SendResult("ok", status, request_id=request_id)
    if status == 409:
        return SendResult("already_accepted", status, error="http_409", request_id=request_id)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers else None
        return SendResult(
            "retryable", status, retry_after, error=f"http_{status}", request_id=request_id
        )
    return SendResult("rejected", status, error=f"http_{status}", request_id=request_id)


class LineClient:
    """reply / push / show_loading over one pooled aiohttp session (the SDK's async client)."""

    def __init__(
        self,
        api_client: AsyncApiClient,
        *,
        timeout: float,
        data_configuration: Configuration | None = None,
    ) -> None:
        self._api_client = api_client
        self._api = AsyncMessagingApi(api_client)
        self.timeout = timeout
        #: api-data.line.me (rich menu images): its own client, opened on first use, since
        #: the SDK's Configuration.host overrides the per-operation host.
        self._data_configuration = data_configuration
        self._data_client: AsyncApiClient | None = None
        #: reply/push go over this session (opened on first use, inside the running loop).
        self._session: aiohttp.ClientSession | None = None
        self._base_url = ""
        self._proxy: Any = None
        self._proxy_auth: aiohttp.BasicAuth | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._api_client.close()
        if self._data_client is not None:
            await self._data_client.close()
            self._data_client = None

    async def reply(self, reply_token: str, messages: list[dict[str, Any]] | str) -> SendResult:
        """Answer with a reply token (free of charge, usable once, shortly after the event).
        `messages`: message dicts, or their JSON array as text (as the outbox stores it)."""
        try:
            if not isinstance(reply_token, str) or not reply_token:
                raise InvalidMessages("no reply token")
            array_json = _checked_array(messages)
        except InvalidMessages as exc:
            return _invalid(exc)
        body = _request_body("replyToken", reply_token, array_json)
        return await self._post(REPLY_PATH, body, {})

    async def push(
        self, user_id: str, messages: list[dict[str, Any]] | str, retry_key: str
    ) -> SendResult:
        """Push with X-Line-Retry-Key: a repeat with the same key is answered 409 by LINE
        when the first was accepted, so retrying can never deliver twice."""
        try:
            if not isinstance(user_id, str) or not user_id:
                raise InvalidMessages("no recipient")
            array_json = _checked_array(messages)
        except InvalidMessages as exc:
            return _invalid(exc)
        body = _request_body("to", user_id, array_json)
        return await self._post(PUSH_PATH, body, {"X-Line-Retry-Key": retry_key})

    async def _post(self, path: str, data: bytes, headers: dict[str, str]) -> SendResult:
        """POST our JSON with the SDK client's credentials and headers (Authorization,
        User-Agent) over this client's own pooled aiohttp session.

        The body is our JSON (each message serialised once, by `check_messages`), already
        checked against the SDK models above and identical to what they would serialise
        (tests/unit/test_line_api.py pins the round trip). The SDK's `call_api` would walk
        and re-serialise it (`sanitize_for_serialization`), and its session (trust_env)
        reads ~/.netrc in a thread on every request: together about half the sender's CPU
        per row. The proxy from the environment is resolved once, when the session opens."""
        session = self._http_session()
        request_headers = {
            **self._api_client.default_headers,
            "Accept": "application/json",
            "Content-Type": "application/json",
            **headers,
        }
        try:
            async with asyncio.timeout(self.timeout + 1.0):  # backstop; aiohttp's bounds it
                async with session.post(
                    self._base_url + path,
                    data=data,
                    headers=request_headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                    proxy=self._proxy,
                    proxy_auth=self._proxy_auth,
                ) as response:
                    await response.read()
                    return _classify(int(response.status), response.headers)
        except TimeoutError:
            return SendResult("retryable", None, error="timeout")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult("retryable", None, error=f"connection_{type(exc).__name__}")

    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            configuration = self._api_client.configuration
            self._base_url = (configuration.host or self._api.line_base_path).rstrip("/")
            self._proxy, self._proxy_auth = configuration.proxy, None
            if self._proxy is None:
                with contextlib.suppress(LookupError):
                    self._proxy, self._proxy_auth = get_env_proxy_for_url(URL(self._base_url))
            self._session = aiohttp.ClientSession(trust_env=False)
        return self._session

    async def show_loading(self, user_id: str, seconds: int = 20) -> SendResult:
        """Show the "…" loading animation in a one-to-one chat while an answer is prepared.
        LINE wants 5–60 seconds in steps of 5; other values are rounded into that range."""
        seconds = min(60, max(5, 5 * round(seconds / 5)))
        request = ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=seconds)
        return await self._call(
            self._api.show_loading_animation_with_http_info(request, _request_timeout=self.timeout)
        )

    # --- rich menu (one-off set-up: `marugoto richmenu install`) ---------------------------

    async def create_rich_menu(self, definition: dict[str, Any]) -> str:
        """POST /v2/bot/richmenu; returns the new richMenuId. Raises InvalidRichMenu before
        sending anything LINE would refuse, LineCallFailed when LINE says no."""
        request = rich_menu_request(definition)
        result, response = await self._call_with_response(
            self._api.create_rich_menu_with_http_info(request, _request_timeout=self.timeout)
        )
        rich_menu_id = getattr(getattr(response, "data", None), "rich_menu_id", None)
        if not result.delivered or not isinstance(rich_menu_id, str) or not rich_menu_id:
            raise LineCallFailed("create rich menu", result)
        log.info("rich menu created: %s", rich_menu_id)
        return rich_menu_id

    async def upload_rich_menu_image(
        self, rich_menu_id: str, image: bytes, content_type: str = "image/png"
    ) -> None:
        """POST api-data.line.me/v2/bot/richmenu/{id}/content (PNG or JPEG, at most 1 MB,
        the menu's size). Once per menu: LINE refuses a second upload."""
        if self._data_configuration is None:
            raise RuntimeError("this LineClient has no api-data host configured")
        if self._data_client is None:
            self._data_client = AsyncApiClient(self._data_configuration)
        blob = AsyncMessagingApiBlob(self._data_client)
        result = await self._call(
            blob.set_rich_menu_image_with_http_info(
                rich_menu_id,
                bytes(image),
                _headers={"Content-Type": content_type},
                _request_timeout=self.timeout,
            )
        )
        if not result.delivered:
            raise LineCallFailed("upload rich menu image", result)
        log.info("rich menu image uploaded: %s (%d bytes)", rich_menu_id, len(image))

    async def set_default_rich_menu(self, rich_menu_id: str) -> None:
        """POST /v2/bot/user/all/richmenu/{id}: every friend without a per-user menu sees it."""
        result = await self._call(
            self._api.set_default_rich_menu_with_http_info(
                rich_menu_id, _request_timeout=self.timeout
            )
        )
        if not result.delivered:
            raise LineCallFailed("set default rich menu", result)
        log.info("default rich menu set: %s", rich_menu_id)

    async def _call_with_response(self, call: Any) -> tuple[SendResult, Any]:
        try:
            async with asyncio.timeout(self.timeout + 1.0):
                response = await call
        except ApiException as exc:
            return _classify(int(exc.status or 0), exc.headers), None
        except TimeoutError:
            return SendResult("retryable", None, error="timeout"), None
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult("retryable", None, error=f"connection_{type(exc).__name__}"), None
        return _classify(int(response.status_code), response.headers), response

    async def _call(self, call: Any) -> SendResult:
        try:
            # The aiohttp timeout bounds the request; the outer one is a backstop.
            async with asyncio.timeout(self.timeout + 1.0):
                response = await call
        except ApiException as exc:
            return _classify(int(exc.status or 0), exc.headers)
        except TimeoutError:
            return SendResult("retryable", None, error="timeout")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult("retryable", None, error=f"connection_{type(exc).__name__}")
        return _classify(int(response.status_code), response.headers)


#: Fields LINE requires in a rich menu object (the SDK model leaves them all optional).
_RICH_MENU_REQUIRED = ("size", "selected", "name", "chatBarText", "areas")


def rich_menu_request(definition: dict[str, Any]) -> RichMenuRequest:
    """The definition as the SDK's RichMenuRequest, or InvalidRichMenu (content-free text)."""
    if not isinstance(definition, dict):
        raise InvalidRichMenu("the rich menu definition is not a JSON object")
    missing = [key for key in _RICH_MENU_REQUIRED if key not in definition]
    if missing:
        raise InvalidRichMenu(f"the rich menu lacks {', '.join(missing)}")
    try:
        request = RichMenuRequest.from_dict(definition)
    except Exception as exc:  # pydantic's text may quote labels: keep the type only
        raise InvalidRichMenu(f"the rich menu fails the SDK model ({type(exc).__name__})") from None
    if request is None:
        raise InvalidRichMenu("empty rich menu definition")
    return request


def _invalid(exc: Exception) -> SendResult:
    # InvalidMessages text is content-free; other SDK errors may quote content: type only.
    detail = str(exc) if isinstance(exc, InvalidMessages) else type(exc).__name__
    log.warning("LINE request not sent, invalid message: %s", detail)
    return SendResult("rejected", None, error="invalid_message")


#: The request bodies the bot sends, by our endpoint name, and the SDK model for each.
_REQUEST_MODELS: dict[str, Any] = {
    "reply": ReplyMessageRequest,
    "push": PushMessageRequest,
    "loading": ShowLoadingAnimationRequest,
    "richmenu": RichMenuRequest,
}


def check_request_body(endpoint: str, body: dict[str, Any]) -> None:
    """Validate a request body with the SDK's own request model (used by the fake LINE
    server, so this module stays the only importer of the SDK). Raises ValueError with the
    SDK's explanation, which may quote content: never log it in production code."""
    model = _REQUEST_MODELS[endpoint]
    if not isinstance(body, dict):
        raise ValueError("request body is not a JSON object")
    messages = body.get("messages")
    if (
        endpoint in ("reply", "push")
        and isinstance(messages, list)
        and all(isinstance(m, dict) for m in messages)
    ):
        # What the request model does per message (`Message.from_dict`), run in full once
        # per distinct message (this check's own cache, not the sender's); then the request
        # model on the envelope, each message replaced by a minimal valid one (same count).
        for message in messages:
            digest = _digest(message)
            if digest is None or digest not in _CHECKED:
                Message.from_dict(message)
                if digest is not None:
                    _remember(_CHECKED, digest)
        body = {**body, "messages": [_MINIMAL_MESSAGE] * len(messages)}
    request = model.from_dict(body)
    if request is None:
        raise ValueError("empty request body")
    if endpoint in ("reply", "push"):
        # from_dict resolves each message through the Message discriminator; an unknown
        # type or a malformed message raises there.
        for message in messages or []:
            if not isinstance(message, dict) or "type" not in message:
                raise ValueError("a message without a type")


_CHECKED: dict[bytes, None] = {}
_MINIMAL_MESSAGE = {"type": "text", "text": "."}


def _remember(cache: dict[bytes, None], digest: bytes) -> None:
    if len(cache) >= _ACCEPTED_MAX:
        cache.clear()
    cache[digest] = None


def create_line_client(settings: Settings, *, timeout: float | None = None) -> LineClient:
    """The process's client. Call inside the running event loop (the SDK opens an aiohttp
    session); `await client.close()` on shutdown."""
    token = settings.line_channel_access_token
    configuration = Configuration(
        host=settings.line_api_base_url.rstrip("/"),
        access_token=token.get_secret_value() if token else _PLACEHOLDER_TOKEN,
    )
    if token is None:
        log.warning("LINE_CHANNEL_ACCESS_TOKEN is not set; LINE calls will be refused")
    data_configuration = Configuration(
        host=settings.line_api_data_base_url.rstrip("/"),
        access_token=configuration.access_token,
    )
    return LineClient(
        AsyncApiClient(configuration),
        timeout=settings.line_timeout_seconds if timeout is None else timeout,
        data_configuration=data_configuration,
    )
