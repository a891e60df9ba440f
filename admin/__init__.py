"""The staff web UI (server-rendered Jinja2 + vendored htmx): sign-in, the handoff queue,
the case view with the LINE conversation, slots, reports and the audit log.

The app mounts it with `admin.mount(app, settings, database=...)` and calls
`admin.ensure_first_admin(database, settings)` once the database is migrated.
"""

from __future__ import annotations

import logging
from typing import Any

from admin.context import AdminContext
from bot.db import Database
from bot.settings import Settings

log = logging.getLogger("admin")

__all__ = ["AdminContext", "ensure_first_admin", "mount"]


def mount(
    app: Any,
    settings: Settings,
    *,
    database: Database | None = None,
    context: AdminContext | None = None,
) -> AdminContext:
    """Add the staff UI to a FastAPI app: routes under /admin, static files, the security
    middleware (headers, generic error page) and the page-level error handlers.

    Without `database`, the one the app's lifespan puts on `app.state.database` is used."""
    from fastapi.staticfiles import StaticFiles
    from starlette.requests import Request
    from starlette.responses import Response

    from admin import audit_routes, auth, case_routes, report_routes, slot_routes, user_routes
    from admin.security import AdminShieldMiddleware
    from admin.templating import render

    ctx = context or AdminContext.build(
        settings, database if database is not None else (lambda: app.state.database)
    )
    app.state.admin = ctx
    app.add_middleware(AdminShieldMiddleware, hsts=settings.environment == "production")
    static = str(__import__("pathlib").Path(__file__).with_name("static"))
    app.mount("/admin/static", StaticFiles(directory=static), name="admin-static")
    for module in (auth, case_routes, report_routes, audit_routes, user_routes, slot_routes):
        app.include_router(module.router(ctx), include_in_schema=False)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        return auth.login_redirect(request)

    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, auth.PageError)
        staff = None
        try:
            staff = auth.current_staff(ctx, request)
        except Exception:  # the error page must render even when the database is down
            staff = None
        return render(
            "error.html",
            {
                "user": staff,
                "message": exc.message,
                "status": exc.status_code,
                "csrf_token": staff.csrf_token if staff else "",
            },
            status_code=exc.status_code,
        )

    app.add_exception_handler(auth.LoginRequired, on_login_required)
    app.add_exception_handler(auth.PageError, on_page_error)
    _html_errors_under_admin(app, on_page_error)

    async def admin_root_redirect(request: Request) -> Response:
        from starlette.responses import RedirectResponse

        return RedirectResponse("/admin/", status_code=307)

    app.add_route("/admin", admin_root_redirect, methods=["GET"], include_in_schema=False)
    return ctx


def _html_errors_under_admin(app: Any, render_page: Any) -> None:
    """Under /admin, framework errors (unknown page 404, wrong method 405, a malformed
    form or path 422) become the same short Japanese page, without echoing the input;
    elsewhere (the webhook, /healthz) FastAPI's JSON answers stay as they are."""
    from fastapi.exception_handlers import (
        http_exception_handler,
        request_validation_exception_handler,
    )
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import Request
    from starlette.responses import Response

    from admin.auth import PageError

    messages = {404: "このページは見つかりません。", 405: "この操作はできません。"}

    def is_admin(request: Request) -> bool:
        return request.url.path == "/admin" or request.url.path.startswith("/admin/")

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not is_admin(request):
            return await http_exception_handler(request, exc)
        page = PageError(exc.status_code, messages.get(exc.status_code, "操作できませんでした。"))
        response: Response = await render_page(request, page)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not is_admin(request):
            return await request_validation_exception_handler(request, exc)
        page = PageError(400, "入力の形がちがいます。画面をもう一度開いてからお試しください。")
        response: Response = await render_page(request, page)
        return response

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)


def ensure_first_admin(database: Database, settings: Settings) -> bool:
    """Create the first admin from MARUGOTO_ADMIN_USERNAME / _PASSWORD if that account does
    not exist yet. A password that breaks the policy is refused (logged without it)."""
    if not settings.admin_username or settings.admin_password is None:
        return False
    from sqlalchemy.exc import IntegrityError

    from bot.actions.staff import AccountError, PasswordRejected, ensure_user

    try:
        with database.write() as session:
            created = ensure_user(
                session,
                username=settings.admin_username,
                password=settings.admin_password.get_secret_value(),
                role="admin",
            )
    except PasswordRejected as error:
        log.error("MARUGOTO_ADMIN_PASSWORD refused by the password policy (%s)", error.reason)
        return False
    except AccountError:
        log.error("MARUGOTO_ADMIN_USERNAME is not a valid username")
        return False
    except IntegrityError:  # another instance created it at the same moment
        return False
    if created is not None:
        log.info("first admin account created: id=%s", created.id)
    return created is not None
