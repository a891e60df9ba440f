"""What the fake LINE server remembers: deliveries, violations, reply tokens, retry keys,
and the faults a test asked for. Thread-safe: the server runs in its own thread (or in the
app's loop in demo mode) while a test reads and arranges from another."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Endpoint = Literal["reply", "push", "loading"]
ENDPOINTS: tuple[str, ...] = ("reply", "push", "loading")


@dataclass(frozen=True)
class Delivery:
    """One accepted reply or push: what the user's phone would show."""

    seq: int
    via: str  # "reply" | "push"
    user_id: str | None  # None for a reply with a token the fake never issued
    messages: list[dict[str, Any]]
    retry_key: str | None
    reply_token: str | None
    request_id: str
    at: float  # time.monotonic()


@dataclass(frozen=True)
class RequestRecord:
    """Every request the fake answered, valid or not (for counting tries and timing)."""

    endpoint: str
    status: int
    user_id: str | None
    retry_key: str | None
    at: float  # time.monotonic() when the request arrived


@dataclass(frozen=True)
class Violation:
    """A request LINE would refuse: the test that caused it has a bug."""

    endpoint: str
    reason: str


@dataclass(frozen=True)
class ChatMessage:
    """One message in a user's chat, numbered for `GET /_fake/messages/{user}?after=N`."""

    seq: int
    user_id: str
    via: str
    message: dict[str, Any]


@dataclass
class _Fault:
    kind: Literal["fail", "hang"]
    times: int
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    deliver: bool = True


@dataclass
class _ReplyToken:
    user_id: str
    expires_at: float | None
    used: bool = False


@dataclass
class FaultDecision:
    """What the app must do with the current request before (or instead of) accepting it."""

    fail_status: int | None = None
    retry_after: float | None = None
    hang_seconds: float = 0.0
    deliver: bool = True


@dataclass(eq=False)  # compared and hashed by identity: it is a live server's memory
class FakeLineState:
    """The fake's memory. Public methods are the test API (see bot.fakeline.FakeLine)."""

    #: Reply tokens the fake never issued: accepted once (user unknown) unless strict.
    strict_reply_tokens: bool = False
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _deliveries: list[Delivery] = field(default_factory=list)
    _requests: list[RequestRecord] = field(default_factory=list)
    _violations: list[Violation] = field(default_factory=list)
    _chat: list[ChatMessage] = field(default_factory=list)
    _loading: list[tuple[str, int]] = field(default_factory=list)
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _reply_tokens: dict[str, _ReplyToken] = field(default_factory=dict)
    _used_unknown_tokens: set[str] = field(default_factory=set)
    _accepted_retry_keys: dict[str, tuple[str, list[dict[str, str]]]] = field(default_factory=dict)
    _reject_reply_tokens: bool = False
    #: Rich menus (bot/fakeline/richmenu.py): id → definition, id → image, the default.
    _rich_menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    _rich_menu_images: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    _default_rich_menu: str | None = None
    _seq: int = 0
    _message_seq: int = 0

    # ---- arranging (tests, simulator) -------------------------------------------------

    def issue_reply_token(self, user_id: str, *, ttl_seconds: float | None = None) -> str:
        """A fresh reply token for a webhook event from `user_id` (like LINE gives)."""
        token = uuid.uuid4().hex
        expires = None if ttl_seconds is None else time.monotonic() + ttl_seconds
        with self._lock:
            self._reply_tokens[token] = _ReplyToken(user_id=user_id, expires_at=expires)
        return token

    def register_reply_token(self, token: str, user_id: str) -> None:
        """Tell the fake which user a token made up by a test belongs to. Registering a
        token again (a redelivered event) changes nothing: a used token stays used."""
        with self._lock:
            self._reply_tokens.setdefault(token, _ReplyToken(user_id=user_id, expires_at=None))

    def reject_reply_tokens(self, reject: bool = True) -> None:
        """Answer every reply with 400 "Invalid reply token" (expired/used, as LINE does)."""
        with self._lock:
            self._reject_reply_tokens = reject

    def fail_next(
        self,
        endpoint: Endpoint,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """The next `times` valid requests to `endpoint` get `status` and are not delivered."""
        self._add_fault(endpoint, _Fault("fail", times, status=status, retry_after=retry_after))

    def hang_next(
        self, endpoint: Endpoint, *, seconds: float, times: int = 1, deliver: bool = True
    ) -> None:
        """The next `times` requests wait `seconds` before answering. deliver=True: LINE has
        accepted the message (a retry with the same key gets 409); deliver=False: nothing is
        delivered and the late answer is 504."""
        self._add_fault(endpoint, _Fault("hang", times, seconds=seconds, deliver=deliver))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._reject_reply_tokens = False

    def _add_fault(self, endpoint: str, fault: _Fault) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        with self._lock:
            self._faults.setdefault(endpoint, []).append(fault)

    # ---- reading (tests, simulator) ---------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    @property
    def loading_calls(self) -> list[tuple[str, int]]:
        """(user_id, seconds) of each accepted loading-animation request."""
        with self._lock:
            return list(self._loading)

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        """Every message delivered to `user_id`, in order (reply and push alike)."""
        with self._lock:
            return [c.message for c in self._chat if c.user_id == user_id]

    def chat_after(self, user_id: str, after: int = 0) -> list[ChatMessage]:
        with self._lock:
            return [c for c in self._chat if c.user_id == user_id and c.seq > after]

    def requests_to(self, endpoint: str) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._requests if r.endpoint == endpoint]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds (re-checked on every request) or time runs out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.05))
            return True

    def wait_for_messages(self, user_id: str, count: int = 1, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda: len(self.messages_to(user_id)) >= count, timeout)

    def reset(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._requests.clear()
            self._violations.clear()
            self._chat.clear()
            self._loading.clear()
            self._faults.clear()
            self._reply_tokens.clear()
            self._used_unknown_tokens.clear()
            self._accepted_retry_keys.clear()
            self._reject_reply_tokens = False
            self._rich_menus.clear()
            self._rich_menu_images.clear()
            self._default_rich_menu = None

    # ---- used by the app ----------------------------------------------------------------

    def record_request(
        self, endpoint: str, status: int, user_id: str | None, retry_key: str | None, at: float
    ) -> None:
        with self._lock:
            self._requests.append(RequestRecord(endpoint, status, user_id, retry_key, at))
            self._lock.notify_all()

    def record_violation(self, endpoint: str, reason: str) -> None:
        with self._lock:
            self._violations.append(Violation(endpoint, reason))
            self._lock.notify_all()

    def take_fault(self, endpoint: str) -> FaultDecision:
        with self._lock:
            queue = self._faults.get(endpoint) or []
            if not queue:
                return FaultDecision()
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
        if fault.kind == "fail":
            return FaultDecision(fail_status=fault.status, retry_after=fault.retry_after)
        return FaultDecision(hang_seconds=fault.seconds, deliver=fault.deliver)

    def accepted_retry_key(self, retry_key: str) -> tuple[str, list[dict[str, str]]] | None:
        with self._lock:
            return self._accepted_retry_keys.get(retry_key)

    def use_reply_token(self, token: str) -> tuple[bool, str | None]:
        """(accepted, user_id). A token works once, before it expires, unless rejected."""
        with self._lock:
            if self._reject_reply_tokens:
                return False, None
            info = self._reply_tokens.get(token)
            if info is None:
                if self.strict_reply_tokens or token in self._used_unknown_tokens:
                    return False, None
                self._used_unknown_tokens.add(token)
                return True, None
            if info.used or (info.expires_at is not None and time.monotonic() > info.expires_at):
                return False, None
            info.used = True
            return True, info.user_id

    def deliver(
        self,
        *,
        via: str,
        user_id: str | None,
        messages: list[dict[str, Any]],
        retry_key: str | None,
        reply_token: str | None,
        request_id: str,
    ) -> list[dict[str, str]] | None:
        """Record an accepted request; returns sentMessages, or None when the retry key was
        accepted before (checked under the same lock, so two racing retries deliver once)."""
        with self._lock:
            if retry_key is not None and retry_key in self._accepted_retry_keys:
                return None
            self._seq += 1
            self._deliveries.append(
                Delivery(
                    seq=self._seq,
                    via=via,
                    user_id=user_id,
                    messages=messages,
                    retry_key=retry_key,
                    reply_token=reply_token,
                    request_id=request_id,
                    at=time.monotonic(),
                )
            )
            sent = []
            for message in messages:
                self._message_seq += 1
                sent.append({"id": str(10**15 + self._message_seq), "quoteToken": uuid.uuid4().hex})
                if user_id is not None:
                    self._chat.append(ChatMessage(self._message_seq, user_id, via, message))
            if retry_key is not None:
                self._accepted_retry_keys[retry_key] = (request_id, sent)
            self._lock.notify_all()
            return sent

    @property
    def rich_menus(self) -> dict[str, dict[str, Any]]:
        """Created rich menus: richMenuId → the definition as sent."""
        with self._lock:
            return dict(self._rich_menus)

    @property
    def rich_menu_images(self) -> dict[str, tuple[str, bytes]]:
        """richMenuId → (content type, image bytes) of each accepted upload."""
        with self._lock:
            return dict(self._rich_menu_images)

    @property
    def default_rich_menu(self) -> str | None:
        with self._lock:
            return self._default_rich_menu

    def add_rich_menu(self, definition: dict[str, Any]) -> str:
        rich_menu_id = "richmenu-" + uuid.uuid4().hex
        with self._lock:
            self._rich_menus[rich_menu_id] = definition
            self._lock.notify_all()
        return rich_menu_id

    def set_rich_menu_image(self, rich_menu_id: str, content_type: str, image: bytes) -> str:
        """Returns ok, or why LINE would refuse: unknown (404) / already (400)."""
        with self._lock:
            if rich_menu_id not in self._rich_menus:
                return "unknown"
            if rich_menu_id in self._rich_menu_images:
                return "already"
            self._rich_menu_images[rich_menu_id] = (content_type, image)
            self._lock.notify_all()
            return "ok"

    def set_default_rich_menu(self, rich_menu_id: str) -> str:
        """Returns ok, or unknown (404) / no_image (400: LINE wants the image first)."""
        with self._lock:
            if rich_menu_id not in self._rich_menus:
                return "unknown"
            if rich_menu_id not in self._rich_menu_images:
                return "no_image"
            self._default_rich_menu = rich_menu_id
            self._lock.notify_all()
            return "ok"

    def record_loading(self, user_id: str, seconds: int) -> None:
        with self._lock:
            self._loading.append((user_id, seconds))
            self._lock.notify_all()
