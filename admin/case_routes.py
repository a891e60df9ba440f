"""The queue (/admin/), the case view and what staff do on a case.

GET never changes a case (it may add an audit row: who looked at what). Every POST checks
the CSRF token and the origin, then the viewer's rights to the case (404 without them),
then calls one bot.actions function in one transaction, then redirects (PRG).
"""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import yaml
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from admin import wording
from admin.auth import PageError, Staff, check_csrf, client_ip, require
from admin.context import AdminContext
from admin.csvexport import csv_response
from admin.labels import window_names
from admin.queries import cases as q
from admin.queries import views
from admin.queries.staff import active_users, user_names
from admin.templating import render
from bot.actions import cases as case_actions
from bot.models.core import HANDOFF_STATUSES
from knowledge.windows import WINDOW_IDS

NOT_FOUND = "この相談は見つかりません。"
#: No reply form and no reply on these (take the case up again to write to the resident).
CLOSED_STATUSES = ("closed",)

FLASH: dict[str, str] = {
    "claimed": "この相談の担当になりました。",
    "claim_lost": "ほかの職員が先に担当になりました。一覧から別の相談を選んでください。",
    "assigned": "担当者を変えました。",
    "status": "状況を変えました。",
    "note": "メモを残しました。",
    "connected": "つなぎ先を記録しました。",
    "sent": "メッセージを送信の列に入れました。届いたかどうかは下の会話に出ます。",
    "handed_back": "ボットにもどしました。相談者にもお知らせしました。",
    "empty": "内容が空です。",
    "too_long": "長すぎます。短くしてください。",
    "bad_transition": "その状況には変えられません。",
    "unreachable": "この方には LINE で送れません(友だち解除など)。",
    "bad_assignee": "その職員には割り当てられません。",
    "not_allowed": "この操作は管理職だけができます。",
    "no_consent": "同意がないため、この相談では送信できません。",
    "case_closed": "終了した相談からは送信できません。状況を「対応中」にもどしてください。",
}


@cache
def canned_phrases() -> list[dict[str, str]]:
    path = Path(__file__).with_name("canned_phrases.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        {"id": str(p["id"]), "label": str(p["label"]), "text": str(p["text"])}
        for p in data["phrases"]
    ]


def viewer(staff: Staff) -> q.Viewer:
    return q.Viewer(user_id=staff.user_id, role=staff.role)


def _case_url(handoff_id: int, msg: str = "") -> str:
    return f"/admin/cases/{handoff_id}" + (f"?msg={msg}" if msg else "")


def router(ctx: AdminContext) -> APIRouter:
    r = APIRouter()

    def queue_context(request: Request, staff: Staff) -> dict[str, Any]:
        params = dict(request.query_params)
        filters = q.QueueFilters.parse(params, WINDOW_IDS)
        with ctx.read() as session:
            page = q.queue(session, viewer(staff), filters)
            crisis_ids = (
                views.crisis_waiting_ids(session, viewer(staff)) if page.crisis_waiting else []
            )
            users = active_users(session) if staff.at_least("supervisor") else []
        return {
            "user": staff,
            "csrf_token": staff.csrf_token,
            "filters": filters,
            "page": page,
            "crisis_ids": crisis_ids,
            "users": users,
            "rows_url": "/admin/queue/rows?" + urlencode(filters.query_string()),
            "page_url": lambda n: "/admin/?" + urlencode(filters.query_string(page=n)),
            "export_url": "/admin/cases.csv?" + urlencode(filters.query_string(page=1)),
            "window_names": window_names(),
            "now": ctx.clock(),
        }

    def audit_search(request: Request, staff: Staff, filters: q.QueueFilters, total: int) -> None:
        with ctx.database.write() as session:
            case_actions.record_view(
                session,
                action="case.search",
                actor_id=staff.user_id,
                detail={"results": total, "query_chars": len(filters.q)},
                ip=client_ip(request),
            )

    @r.get("/admin/")
    def queue_page(request: Request) -> Response:
        staff = require(ctx, request)
        context = queue_context(request, staff)
        if context["filters"].q.strip():
            audit_search(request, staff, context["filters"], context["page"].total)
        return render("queue.html", context)

    @r.get("/admin/queue/rows")
    def queue_rows(request: Request) -> Response:
        # The page's own 10-second poll: not something the person did (idle timeout).
        staff = require(ctx, request, activity=False)
        context = queue_context(request, staff)
        return render("_queue_rows.html", context)

    @r.get("/admin/cases.csv")
    def cases_csv(request: Request) -> Response:
        staff = require(ctx, request, "supervisor")
        filters = q.QueueFilters.parse(dict(request.query_params), WINDOW_IDS)
        with ctx.read() as session:
            rows = q.export_rows(session, viewer(staff), filters)
        with ctx.database.write() as session:
            case_actions.record_view(
                session,
                action="case.export",
                actor_id=staff.user_id,
                detail={"rows": len(rows)},
                ip=client_ip(request),
            )
        header = [
            "相談番号", "受付日時", "状況", "緊急度", "表示の根拠", "相談者", "窓口",
            "つなぎ先", "担当", "初回対応", "終了", "連絡方法", "連絡の希望時間",
        ]  # fmt: skip
        body = (
            [
                row["id"],
                row["created_at"],
                row["status"],
                row["urgency"],
                row["basis"],
                row["reporter"],
                row["windows"],
                row["connected_windows"],
                row["assignee"],
                row["first_response_at"],
                row["closed_at"],
                row["contact_method"],
                row["contact_time"],
            ]
            for row in rows
        )
        return csv_response("marugoto-cases.csv", header, body)

    @r.get("/admin/cases/{handoff_id}")
    def case_page(request: Request, handoff_id: int) -> Response:
        staff = require(ctx, request)
        with ctx.read() as session:
            detail = q.get_case(session, viewer(staff), handoff_id)
            users = active_users(session) if staff.at_least("supervisor") else []
            names = user_names(session)
            history = (
                views.case_history(session, detail.handoff, names) if detail is not None else []
            )
        if detail is None:
            raise PageError(404, NOT_FOUND)
        with ctx.database.write() as session:
            case_actions.record_view(
                session,
                action="case.view",
                actor_id=staff.user_id,
                target_type="handoff",
                target_id=handoff_id,
                detail={"basis": detail.basis},
                ip=client_ip(request),
            )
        msg = request.query_params.get("msg", "")
        can_act = detail.handoff.assigned_to in (None, staff.user_id) or staff.at_least(
            "supervisor"
        )
        return render(
            "case.html",
            {
                "user": staff,
                "csrf_token": staff.csrf_token,
                "case": detail,
                "h": detail.handoff,
                "flash": FLASH.get(msg, ""),
                "flash_kind": "ok"
                if msg
                in ("claimed", "assigned", "status", "note", "connected", "sent", "handed_back")
                else "warn",
                "can_act": can_act,
                "can_reply": can_act
                and detail.basis in ("consent", "crisis_policy")
                and detail.handoff.status not in CLOSED_STATUSES,
                "users": users,
                "transitions": [
                    s
                    for s in HANDOFF_STATUSES
                    if s in case_actions.TRANSITIONS.get(detail.handoff.status, ())
                ],
                "phrases": canned_phrases(),
                "history": wording.history_lines(history, names),
                "request_key": secrets.token_hex(16),
                "window_names": window_names(),
                "now": ctx.clock(),
            },
        )

    @r.get("/admin/canned/{phrase_id}")
    def canned(request: Request, phrase_id: str) -> Response:
        staff = require(ctx, request)
        phrase = next((p for p in canned_phrases() if p["id"] == phrase_id), None)
        if phrase is None:
            raise PageError(404, "その定型文はありません。")
        return render("_reply_text.html", {"text": phrase["text"], "user": staff})

    def acting(request: Request, handoff_id: int, csrf_token: str) -> Staff:
        """Rights for a POST on a case: signed in, CSRF ok, the case visible to them."""
        staff = require(ctx, request)
        check_csrf(ctx, request, staff, csrf_token)
        with ctx.read() as session:
            if not q.can_access(session, viewer(staff), handoff_id):
                raise PageError(404, NOT_FOUND)
        return staff

    def run(handoff_id: int, ok: str, fn: Any) -> Response:
        try:
            with ctx.database.write() as session:
                result = fn(session)
        except case_actions.CaseError as error:
            return RedirectResponse(_case_url(handoff_id, error.code), status_code=303)
        code = ok if result is not False else "claim_lost"
        return RedirectResponse(_case_url(handoff_id, code), status_code=303)

    @r.post("/admin/cases/{handoff_id}/claim")
    def claim(request: Request, handoff_id: int, csrf_token: str = Form("")) -> Response:
        staff = acting(request, handoff_id, csrf_token)
        return run(
            handoff_id,
            "claimed",
            lambda s: case_actions.claim(
                s, handoff_id=handoff_id, staff_id=staff.user_id, ip=client_ip(request)
            ),
        )

    @r.post("/admin/cases/{handoff_id}/assign")
    def assign(
        request: Request,
        handoff_id: int,
        csrf_token: str = Form(""),
        assignee: str = Form(""),
    ) -> Response:
        staff = acting(request, handoff_id, csrf_token)
        if not staff.at_least("supervisor"):
            return RedirectResponse(_case_url(handoff_id, "not_allowed"), status_code=303)
        to_user = int(assignee) if assignee.isdigit() and len(assignee) < 12 else None
        return run(
            handoff_id,
            "assigned",
            lambda s: case_actions.assign(
                s,
                handoff_id=handoff_id,
                to_user_id=to_user,
                actor_id=staff.user_id,
                ip=client_ip(request),
            ),
        )

    def own_or_supervisor(staff: Staff, handoff_id: int) -> None:
        """Changing a case others may have claimed: only its assignee or a supervisor."""
        with ctx.read() as session:
            detail = q.get_case(session, viewer(staff), handoff_id)
        if detail is None:
            raise PageError(404, NOT_FOUND)
        assigned = detail.handoff.assigned_to
        if assigned not in (None, staff.user_id) and not staff.at_least("supervisor"):
            raise PageError(404, NOT_FOUND)

    @r.post("/admin/cases/{handoff_id}/status")
    def status(
        request: Request,
        handoff_id: int,
        csrf_token: str = Form(""),
        status: str = Form(""),
    ) -> Response:
        staff = acting(request, handoff_id, csrf_token)
        own_or_supervisor(staff, handoff_id)
        return run(
            handoff_id,
            "status",
            lambda s: case_actions.set_status(
                s,
                handoff_id=handoff_id,
                status=status,
                actor_id=staff.user_id,
                ip=client_ip(request),
            ),
        )

    @r.post("/admin/cases/{handoff_id}/notes")
    def note(
        request: Request,
        handoff_id: int,
        csrf_token: str = Form(""),
        text: str = Form("", max_length=20_000),
    ) -> Response:
        staff = acting(request, handoff_id, csrf_token)
        return run(
            handoff_id,
            "note",
            lambda s: case_actions.add_note(
                s,
                handoff_id=handoff_id,
                text=text,
                actor_id=staff.user_id,
                ip=client_ip(request),
            ),
        )

    @r.post("/admin/cases/{handoff_id}/connected")
    def connected(
        request: Request,
        handoff_id: int,
        csrf_token: str = Form(""),
        windows: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        staff = acting(request, handoff_id, csrf_token)
        own_or_supervisor(staff, handoff_id)
        return run(
            handoff_id,
            "connected",
            lambda s: case_actions.set_connected_windows(
                s,
                handoff_id=handoff_id,
                windows=windows or [],
                actor_id=staff.user_id,
                ip=client_ip(request),
            ),
        )

    @r.post("/admin/cases/{handoff_id}/reply")
    def reply(
        request: Request,
        handoff_id: int,
        csrf_token: str = Form(""),
        text: str = Form("", max_length=20_000),
        request_key: str = Form("", max_length=64),
    ) -> Response:
        staff = acting(request, handoff_id, csrf_token)
        own_or_supervisor(staff, handoff_id)
        with ctx.read() as session:
            detail = q.get_case(session, viewer(staff), handoff_id)
        if detail is None or detail.basis not in ("consent", "crisis_policy"):
            return RedirectResponse(_case_url(handoff_id, "no_consent"), status_code=303)
        if detail.handoff.status in CLOSED_STATUSES:
            return RedirectResponse(_case_url(handoff_id, "case_closed"), status_code=303)
        return run(
            handoff_id,
            "sent",
            lambda s: case_actions.staff_reply(
                s,
                handoff_id=handoff_id,
                text=text,
                actor_id=staff.user_id,
                request_key=request_key,
                ip=client_ip(request),
            ),
        )

    @r.post("/admin/cases/{handoff_id}/hand-back")
    def hand_back(
        request: Request,
        handoff_id: int,
        csrf_token: str = Form(""),
        request_key: str = Form("", max_length=64),
    ) -> Response:
        staff = acting(request, handoff_id, csrf_token)
        own_or_supervisor(staff, handoff_id)
        return run(
            handoff_id,
            "handed_back",
            lambda s: case_actions.hand_back_to_bot(
                s,
                handoff_id=handoff_id,
                actor_id=staff.user_id,
                ip=client_ip(request),
                request_key=request_key,
            ),
        )

    return r
