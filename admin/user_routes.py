"""Accounts (admins): create, change role, disable / enable, set a new password."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from admin.auth import check_csrf, client_ip, require
from admin.context import AdminContext
from admin.queries.staff import list_users
from admin.templating import render
from bot.actions import staff as staff_actions
from bot.models.staff import ROLES

PASSWORD_REASONS = {
    "too_short": f"パスワードは{staff_actions.PASSWORD_MIN_LENGTH}文字以上にしてください。",
    "too_long": "パスワードが長すぎます。",
    "common": "よく使われるパスワードは使えません。",
    "repetitive": "同じ文字のくり返しが多すぎます。",
    "contains_username": "ユーザー名を含むパスワードは使えません。",
}
FLASH = {
    "created": "アカウントを作りました。",
    "role": "役割を変えました(その人はもう一度ログインが必要です)。",
    "disabled": "アカウントを止めました。ログイン中の画面もすぐ使えなくなります。",
    "enabled": "アカウントを使えるようにしました。",
    "password": "パスワードを変えました。",
    "self": "自分のアカウントは止めたり役割を変えたりできません。",
}


def router(ctx: AdminContext) -> APIRouter:
    r = APIRouter()

    def page(request: Request, *, error: str = "", status: int = 200) -> Response:
        staff = require(ctx, request, "admin")
        with ctx.read() as session:
            users = list_users(session)
        return render(
            "users.html",
            {
                "user": staff,
                "csrf_token": staff.csrf_token,
                "users": users,
                "roles": ROLES,
                "error": error,
                "flash": FLASH.get(request.query_params.get("msg", ""), ""),
                "min_length": staff_actions.PASSWORD_MIN_LENGTH,
            },
            status_code=status,
        )

    @r.get("/admin/users")
    def users(request: Request) -> Response:
        return page(request)

    def done(msg: str) -> Response:
        return RedirectResponse(f"/admin/users?msg={msg}", status_code=303)

    @r.post("/admin/users")
    def create(
        request: Request,
        csrf_token: str = Form(""),
        username: str = Form("", max_length=256),
        display_name: str = Form("", max_length=256),
        password: str = Form("", max_length=1024),
        role: str = Form("staff"),
    ) -> Response:
        staff = require(ctx, request, "admin")
        check_csrf(ctx, request, staff, csrf_token)
        try:
            with ctx.database.write() as session:
                staff_actions.create_user(
                    session,
                    username=username,
                    password=password,
                    role=role,
                    display_name=display_name,
                    actor_id=staff.user_id,
                    ip=client_ip(request),
                )
        except staff_actions.PasswordRejected as error:
            return page(request, error=PASSWORD_REASONS.get(error.reason, ""), status=400)
        except staff_actions.AccountError:
            return page(request, error="そのユーザー名は使えないか、すでにあります。", status=400)
        return done("created")

    @r.post("/admin/users/{user_id}/role")
    def role(
        request: Request, user_id: int, csrf_token: str = Form(""), role: str = Form("")
    ) -> Response:
        staff = require(ctx, request, "admin")
        check_csrf(ctx, request, staff, csrf_token)
        if user_id == staff.user_id:
            return done("self")
        try:
            with ctx.database.write() as session:
                staff_actions.set_role(
                    session, user_id=user_id, role=role, actor_id=staff.user_id,
                    ip=client_ip(request),
                )  # fmt: skip
        except staff_actions.AccountError:
            return page(request, error="役割を変えられませんでした。", status=400)
        return done("role")

    @r.post("/admin/users/{user_id}/disabled")
    def disabled(
        request: Request, user_id: int, csrf_token: str = Form(""), disabled: str = Form("1")
    ) -> Response:
        staff = require(ctx, request, "admin")
        check_csrf(ctx, request, staff, csrf_token)
        if user_id == staff.user_id:
            return done("self")
        off = disabled == "1"
        try:
            with ctx.database.write() as session:
                staff_actions.set_disabled(
                    session, user_id=user_id, disabled=off, actor_id=staff.user_id,
                    ip=client_ip(request),
                )  # fmt: skip
        except staff_actions.AccountError:
            return page(request, error="変更できませんでした。", status=400)
        return done("disabled" if off else "enabled")

    @r.post("/admin/users/{user_id}/password")
    def password(
        request: Request,
        user_id: int,
        csrf_token: str = Form(""),
        password: str = Form("", max_length=1024),
    ) -> Response:
        staff = require(ctx, request, "admin")
        check_csrf(ctx, request, staff, csrf_token)
        try:
            with ctx.database.write() as session:
                staff_actions.set_password(
                    session, user_id=user_id, password=password, actor_id=staff.user_id,
                    ip=client_ip(request),
                )  # fmt: skip
        except staff_actions.PasswordRejected as error:
            return page(request, error=PASSWORD_REASONS.get(error.reason, ""), status=400)
        except staff_actions.AccountError:
            return page(request, error="変更できませんでした。", status=400)
        return done("password")

    return r
