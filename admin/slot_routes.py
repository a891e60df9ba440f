"""Slots (all staff): the coming weeks per service; block / reopen a slot, change its
capacity, close a day; add, cancel or move a date of a monthly session (居場所, 家族の集い);
see who is booked (as consent allows); book a case's resident into a slot, cancel or move
a booking to one of the open slots offered (the resident is told on LINE)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from admin.auth import PageError, Staff, check_csrf, client_ip, require
from admin.case_routes import viewer
from admin.context import AdminContext
from admin.queries import cases as q
from admin.queries import slots as sq
from admin.queries import views as vq
from admin.templating import render
from bot.actions import booking as booking_actions
from bot.actions import cases as case_actions
from bot.actions import slots as slot_actions
from knowledge.booking import load_booking_settings
from knowledge.calendar import JST

FLASH = {
    "blocked": "枠を止めました(予約済みの方はそのままです)。",
    "reopened": "枠を再開しました。",
    "capacity": "定員を変えました。",
    "capacity_refused": "すでに予約している人数より少なくはできません。",
    "closed": "休みの日にしました。",
    "booked": "予約しました。相談者に LINE でお知らせします。",
    "full": "その枠は埋まっています。",
    "already": "その方はすでにこの枠を予約しています。",
    "too_many": "その方の予約がいっぱいです。",
    "cancelled": "予約を取り消しました。相談者に LINE でお知らせします。",
    "moved": "予約を移しました。相談者に LINE でお知らせします。",
    "outcome": "出欠を記録しました。",
    "not_found": "見つかりませんでした。",
    "no_phone": "電話番号の記録がないため、電話の予約はできません。",
    "unreachable": "この方には LINE で送れません。",
    "no_consent": "同意のない相談には予約を入れられません。",
    "duplicate": "同じ操作はすでに受け付けています。",
    "session_added": "日程を追加しました。LINE の予約で選べるようになります。",
    "session_cancelled": "この回を中止しました。予約していた方には LINE でお知らせします。",
    "session_moved": "日程を移しました。予約していた方には新しい日時を LINE でお知らせします。",
    "not_session": "この内容は日程の追加・中止・移動ができません。",
    "past": "過ぎた日時は選べません。",
    "bad_time": "開始と終了の時刻を確かめてください。",
    "bad_capacity": "定員は 1 から 1000 の間にしてください。",
    "closed_day": "その日は休みの日です。",
    "exists": "その日時にはすでに回があります。",
    "same_time": "いまと同じ日時です。",
    "too_small": "予約している人数より定員が少なくなります。",
    "move_failed": "予約を新しい日時に移せませんでした(近すぎる日時など)。何も変えていません。",
}


def _jst_at(day: str, at: str) -> datetime | None:
    """A JST date and HH:MM from a form, as an aware datetime (None if malformed)."""
    try:
        return datetime.combine(date.fromisoformat(day[:10]), time.fromisoformat(at[:5]), JST)
    except ValueError:
        return None


def router(ctx: AdminContext) -> APIRouter:
    r = APIRouter()

    def services() -> dict[str, str]:
        return {s.id: s.name for s in load_booking_settings().services.values()}

    def back(request: Request, msg: str) -> Response:
        target = request.headers.get("referer", "")
        path = "/admin/slots"
        if "/admin/slots?" in target:
            path = "/admin/slots?" + target.split("/admin/slots?", 1)[1].split("#", 1)[0]
            path = path.split("&msg=")[0]
        sep = "&" if "?" in path else "?"
        return RedirectResponse(f"{path}{sep}msg={msg}", status_code=303)

    @r.get("/admin/slots")
    def slots_page(request: Request) -> Response:
        staff = require(ctx, request)
        names = services()
        service = request.query_params.get("service", "")
        if service not in names:
            service = next(iter(names))
        today = ctx.clock().astimezone(JST).date()
        try:
            start = date.fromisoformat(request.query_params.get("from", "")[:10])
        except ValueError:
            start = today
        start = max(min(start, today + timedelta(days=400)), today - timedelta(days=400))
        with ctx.read() as session:
            days = sq.days(session, viewer(staff), service, start)
            targets = vq.open_slots(session, service, ctx.clock())
        with ctx.database.write() as session:
            case_actions.record_view(
                session,
                action="slots.view",
                actor_id=staff.user_id,
                detail={"bookings": sum(len(s.bookings) for d in days for s in d.slots)},
                ip=client_ip(request),
            )
        return render(
            "slots.html",
            {
                "user": staff,
                "csrf_token": staff.csrf_token,
                "services": names,
                "service": service,
                "start": start,
                "days": days,
                "flash": FLASH.get(request.query_params.get("msg", ""), ""),
                "prev_url": "/admin/slots?"
                + urlencode({"service": service, "from": (start - timedelta(days=21)).isoformat()}),
                "next_url": "/admin/slots?"
                + urlencode({"service": service, "from": (start + timedelta(days=21)).isoformat()}),
                "request_key": secrets.token_hex(16),
                "move_targets": targets,
                "now": ctx.clock(),
                "session_service": service in slot_actions.session_services(),
                "session_defaults": session_defaults(service),
            },
        )

    def session_defaults(service_id: str) -> dict[str, object]:
        settings = load_booking_settings()
        spec = settings.services.get(service_id)
        if spec is None or spec.start is None or spec.end is None:
            return {"start": "", "end": "", "capacity": 10}
        return {
            "start": spec.start.strftime("%H:%M"),
            "end": spec.end.strftime("%H:%M"),
            "capacity": settings.capacity_of(spec),
        }

    def acting(request: Request, csrf_token: str) -> Staff:
        staff = require(ctx, request)
        check_csrf(ctx, request, staff, csrf_token)
        return staff

    @r.post("/admin/slots/{slot_id}/block")
    def block(
        request: Request, slot_id: int, csrf_token: str = Form(""), blocked: str = Form("1")
    ) -> Response:
        staff = acting(request, csrf_token)
        with ctx.database.write() as session:
            done = slot_actions.set_slot_blocked(
                session, slot_id, blocked == "1", staff_id=staff.user_id
            )
        return back(request, ("blocked" if blocked == "1" else "reopened") if done else "not_found")

    @r.post("/admin/slots/{slot_id}/capacity")
    def capacity(
        request: Request, slot_id: int, csrf_token: str = Form(""), capacity: int = Form(...)
    ) -> Response:
        staff = acting(request, csrf_token)
        if not 0 <= capacity <= 1000:
            return back(request, "capacity_refused")
        with ctx.database.write() as session:
            done = slot_actions.set_slot_capacity(
                session, slot_id, capacity, staff_id=staff.user_id
            )
        return back(request, "capacity" if done else "capacity_refused")

    @r.post("/admin/slots/closures")
    def close_day(
        request: Request,
        csrf_token: str = Form(""),
        day: str = Form(""),
        cancel_bookings: str = Form(""),
    ) -> Response:
        staff = acting(request, csrf_token)
        try:
            which = date.fromisoformat(day[:10])
        except ValueError:
            return back(request, "not_found")
        with ctx.database.write() as session:
            slot_actions.close_day(
                session,
                which,
                staff_id=staff.user_id,
                now=ctx.clock(),
                cancel_bookings=cancel_bookings == "1",
            )
        return back(request, "closed")

    @r.post("/admin/slots/sessions")
    def add_session(
        request: Request,
        csrf_token: str = Form(""),
        service: str = Form("", max_length=32),
        day: str = Form("", max_length=16),
        start: str = Form("", max_length=8),
        end: str = Form("", max_length=8),
        capacity: int = Form(0),
    ) -> Response:
        staff = acting(request, csrf_token)
        starts_at, ends_at = _jst_at(day, start), _jst_at(day, end)
        if starts_at is None or ends_at is None:
            return back(request, "bad_time")
        try:
            with ctx.database.write() as session:
                slot_actions.add_session(
                    session,
                    service_id=service,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    capacity=capacity,
                    staff_id=staff.user_id,
                    now=ctx.clock(),
                )
        except slot_actions.SessionError as error:
            return back(request, error.code)
        return back(request, "session_added")

    @r.post("/admin/slots/{slot_id}/cancel-session")
    def cancel_session(request: Request, slot_id: int, csrf_token: str = Form("")) -> Response:
        staff = acting(request, csrf_token)
        try:
            with ctx.database.write() as session:
                slot_actions.cancel_session(
                    session, slot_id, staff_id=staff.user_id, now=ctx.clock(), ip=client_ip(request)
                )
        except slot_actions.SessionError as error:
            return back(request, error.code)
        return back(request, "session_cancelled")

    @r.post("/admin/slots/{slot_id}/move-session")
    def move_session(
        request: Request,
        slot_id: int,
        csrf_token: str = Form(""),
        day: str = Form("", max_length=16),
        start: str = Form("", max_length=8),
        end: str = Form("", max_length=8),
        capacity: str = Form("", max_length=8),
    ) -> Response:
        staff = acting(request, csrf_token)
        starts_at, ends_at = _jst_at(day, start), _jst_at(day, end)
        if starts_at is None or ends_at is None:
            return back(request, "bad_time")
        seats = int(capacity) if capacity.isdigit() else None
        try:
            with ctx.database.write() as session:
                slot_actions.move_session(
                    session,
                    slot_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    capacity=seats,
                    staff_id=staff.user_id,
                    now=ctx.clock(),
                    ip=client_ip(request),
                )
        except slot_actions.SessionError as error:
            return back(request, error.code)
        return back(request, "session_moved")

    @r.post("/admin/slots/{slot_id}/book")
    def book(
        request: Request,
        slot_id: int,
        csrf_token: str = Form(""),
        case_id: str = Form(""),
        mode: str = Form("visit"),
        request_key: str = Form("", max_length=64),
    ) -> Response:
        staff = acting(request, csrf_token)
        digits = case_id.strip().lstrip("#")
        if not digits.isdigit() or len(digits) > 12:
            return back(request, "not_found")
        handoff_id = int(digits)
        with ctx.read() as session:
            detail = q.get_case(session, viewer(staff), handoff_id)
        if detail is None:
            raise PageError(404, "この相談は見つかりません。")
        if detail.basis != "consent":
            return back(request, "no_consent")
        try:
            with ctx.database.write() as session:
                status = case_actions.staff_book(
                    session,
                    handoff_id=handoff_id,
                    slot_id=slot_id,
                    mode=mode,
                    actor_id=staff.user_id,
                    now=ctx.clock(),
                    request_key=request_key,
                    ip=client_ip(request),
                )
        except case_actions.CaseError as error:
            return back(request, error.code)
        return back(request, status)

    def booking_rights(staff: Staff, booking_id: int) -> None:
        """Bookings tied to a case follow the case's rights; others are desk bookings."""
        with ctx.read() as session:
            handoff_id = sq.booking_case(session, booking_id)
            if handoff_id is not None and not q.can_access(session, viewer(staff), handoff_id):
                raise PageError(404, "この予約は見つかりません。")

    @r.post("/admin/bookings/{booking_id}/cancel")
    def cancel(request: Request, booking_id: int, csrf_token: str = Form("")) -> Response:
        staff = acting(request, csrf_token)
        booking_rights(staff, booking_id)
        with ctx.database.write() as session:
            result = booking_actions.staff_cancel(
                session, booking_id, staff_id=staff.user_id, now=ctx.clock(), ip=client_ip(request)
            )
        return back(request, "cancelled" if result.status == "cancelled" else "not_found")

    @r.post("/admin/bookings/{booking_id}/move")
    def move(
        request: Request,
        booking_id: int,
        csrf_token: str = Form(""),
        new_slot_id: int = Form(...),
        request_key: str = Form("", max_length=64),
    ) -> Response:
        staff = acting(request, csrf_token)
        booking_rights(staff, booking_id)
        try:
            with ctx.database.write() as session:
                status = case_actions.staff_move(
                    session,
                    booking_id=booking_id,
                    new_slot_id=new_slot_id,
                    actor_id=staff.user_id,
                    now=ctx.clock(),
                    request_key=request_key,
                    ip=client_ip(request),
                )
        except case_actions.CaseError as error:
            return back(request, error.code)
        return back(request, "moved" if status == "booked" else status)

    @r.post("/admin/bookings/{booking_id}/outcome")
    def outcome(
        request: Request, booking_id: int, csrf_token: str = Form(""), outcome: str = Form("")
    ) -> Response:
        staff = acting(request, csrf_token)
        booking_rights(staff, booking_id)
        if outcome not in ("attended", "no_show"):
            return back(request, "not_found")
        with ctx.database.write() as session:
            done = booking_actions.mark_outcome(
                session, booking_id, outcome, staff_id=staff.user_id
            )
        return back(request, "outcome" if done else "not_found")

    return r
