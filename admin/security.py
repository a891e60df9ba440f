"""Response hardening for every /admin page, the generic error page, and CSRF checks.

- Security headers (CSP without inline script, nosniff, Referrer-Policy, frame-ancestors
  'none', no-store) on every /admin response.
- An exception in an /admin route becomes a generic page with an error id; the log line has
  the id, the exception type and the code location, never the exception's message (which
  could carry resident text) and never a stack trace in the page.
- CSRF: every state-changing request needs a same-origin Origin (or Referer) AND a token
  bound to the session (synchronizer token, HMAC of the session id).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

log = logging.getLogger("admin.security")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ADMIN_PREFIX = "/admin"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]

ERROR_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>エラー | まるごと職員画面</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/admin/static/admin.css"></head>
<body><main class="narrow"><h1>エラーが起きました</h1>
<p>お手数ですが、もう一度お試しください。続くときは、このエラー番号を管理者に伝えてください。</p>
<p>エラー番号: <code>{error_id}</code></p>
<p><a href="/admin/">相談一覧にもどる</a></p></main></body></html>
"""


def _is_admin(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


class AdminShieldMiddleware:
    """Pure ASGI middleware: headers and the generic error page for /admin paths only."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_admin(scope):
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(ADMIN_PREFIX + "/static/")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {h for h, _ in BASE_HEADERS}
                    and (static or k.lower() != b"cache-control")
                ]
                headers.extend(BASE_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                    headers.append((b"pragma", b"no-cache"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            error_id = secrets.token_hex(6)
            frames = traceback.extract_tb(exc.__traceback__)
            where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames[-4:])
            log.error("admin error id=%s type=%s at %s", error_id, type(exc).__name__, where)
            if started:
                return
            body = ERROR_PAGE.format(error_id=error_id).encode()
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def expected_origin(request: Request) -> str:
    """scheme://host[:port] of this request as the browser addressed it."""
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}".lower()


def same_origin(request: Request) -> bool:
    """True when the request comes from our own pages (Origin, else Referer)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() == expected_origin(request)
    referer = request.headers.get("referer")
    if referer is not None:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}".lower() == expected_origin(request)
    # Neither header: not a browser form post (browsers send Origin on POST). The token
    # check still applies.
    return True


def tokens_match(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
