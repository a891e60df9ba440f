"""Who is signed in, what their role allows, and the login/logout pages.

Roles: staff (work cases) < supervisor (+ reassign, export, reports, audit) < admin
(+ accounts). The session cookie is a random token; the server stores only its SHA-256.
It is HttpOnly, SameSite=Lax, Secure outside development, without Domain, and is replaced
by a new token on login (a token planted before login never becomes a session).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from admin.context import AdminContext
from admin.queries.staff import load_session
from admin.security import same_origin, tokens_match
from admin.templating import render
from bot.actions import staff as staff_actions

ROLE_RANK = {"staff": 1, "supervisor": 2, "admin": 3}
LOGIN_FAILED = "ユーザー名またはパスワードが違うか、しばらくログインできない状態です。"


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member for this request."""

    user_id: int
    username: str
    display_name: str
    role: str
    session_id: str
    csrf_token: str

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]

    @property
    def name(self) -> str:
        return self.display_name or self.username


class LoginRequired(Exception):
    pass


class PageError(Exception):
    """Render the error page with this status (403, 404 …) and a short Japanese message."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.message = message


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def current_staff(ctx: AdminContext, request: Request, *, activity: bool = True) -> Staff | None:
    """The signed-in staff member, or None (no session, expired, idle too long, disabled).

    `activity=False` for requests a page makes by itself (the queue's htmx poll): they are
    answered, but they do not count as the person doing something, so an unattended desk
    still reaches the idle timeout."""
    token = request.cookies.get(ctx.cookie_name)
    if not token or len(token) > 128:
        return None
    session_id = staff_actions.session_id_for(token)
    with ctx.read() as session:
        row = load_session(session, session_id)
    now = ctx.clock()
    if (
        row is None
        or row.revoked
        or row.disabled
        or now >= row.expires_at
        or now - row.last_seen_at >= ctx.policy.idle_timeout
    ):
        return None
    if activity and now - row.last_seen_at >= ctx.policy.touch_interval:
        with ctx.database.write() as session:
            staff_actions.touch_session(session, session_id=session_id, now=now)
    return Staff(
        user_id=row.user_id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        session_id=session_id,
        csrf_token=ctx.sign("csrf", session_id),
    )


def require(
    ctx: AdminContext, request: Request, role: str = "staff", *, activity: bool = True
) -> Staff:
    staff = current_staff(ctx, request, activity=activity)
    if staff is None:
        raise LoginRequired()
    if not staff.at_least(role):
        raise PageError(403, "この画面を見る権限がありません。")
    return staff


def check_csrf(ctx: AdminContext, request: Request, staff: Staff, form_token: str) -> None:
    """Every state change: same origin, and the session's token in the form or a header."""
    if not same_origin(request):
        raise PageError(403, "この操作は受け付けられませんでした(別のサイトからの送信)。")
    given = request.headers.get("x-csrf-token") or form_token
    if not tokens_match(staff.csrf_token, given):
        raise PageError(403, "画面の有効期限が切れました。もう一度開いてから操作してください。")


def set_session_cookie(ctx: AdminContext, response: Response, token: str) -> None:
    response.set_cookie(
        ctx.cookie_name,
        token,
        httponly=True,
        secure=not ctx.development,
        samesite="lax",
        path="/",
    )


def _safe_next(value: str | None) -> str:
    """Only our own /admin paths (no //evil.example, no scheme)."""
    if value and value.startswith("/admin") and "//" not in value and "\\" not in value:
        return value
    return "/admin/"


def router(ctx: AdminContext) -> APIRouter:
    r = APIRouter()

    def login_page(request: Request, *, error: str = "", status: int = 200) -> Response:
        token = request.cookies.get(ctx.cookie_name) or ""
        fresh = not token or len(token) > 128
        if fresh:
            token = secrets.token_urlsafe(32)
        response = render(
            "login.html",
            {
                "csrf_token": ctx.sign("login", token),
                "next": _safe_next(request.query_params.get("next")),
                "error": error,
                "user": None,
            },
            status_code=status,
        )
        if fresh:
            set_session_cookie(ctx, response, token)
        return response

    @r.get("/admin/login")
    def login_form(request: Request) -> Response:
        if current_staff(ctx, request) is not None:
            return RedirectResponse("/admin/", status_code=303)
        return login_page(request)

    @r.post("/admin/login")
    def login(
        request: Request,
        username: str = Form("", max_length=256),
        password: str = Form("", max_length=1024),
        csrf_token: str = Form("", max_length=128),
        next: str = Form("/admin/", max_length=2048),
    ) -> Response:
        pre_token = request.cookies.get(ctx.cookie_name) or ""
        if not same_origin(request) or not pre_token:
            raise PageError(403, "この操作は受け付けられませんでした。")
        if not tokens_match(ctx.sign("login", pre_token), csrf_token):
            raise PageError(403, "画面の有効期限が切れました。もう一度開いてください。")
        with ctx.database.write() as session:
            result = staff_actions.log_in(
                session,
                username=username,
                password=password,
                ip=client_ip(request),
                secret=ctx.secret,
                policy=ctx.policy,
                now=ctx.clock(),
            )
        if not result.ok or result.token is None:
            return login_page(request, error=LOGIN_FAILED, status=401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        set_session_cookie(ctx, response, result.token)
        return response

    @r.post("/admin/logout")
    def logout(request: Request, csrf_token: str = Form("", max_length=128)) -> Response:
        staff = current_staff(ctx, request)
        if staff is None:
            return RedirectResponse("/admin/login", status_code=303)
        check_csrf(ctx, request, staff, csrf_token)
        with ctx.database.write() as session:
            staff_actions.log_out(session, session_id=staff.session_id, ip=client_ip(request))
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(
            ctx.cookie_name, path="/", secure=not ctx.development, httponly=True, samesite="lax"
        )
        return response

    return r


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = "/admin/login?next=" + quote(target, safe="")
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)
