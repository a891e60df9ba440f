"""The audit log for supervisors: view and CSV export (the export is itself audited)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from admin import wording
from admin.auth import client_ip, require
from admin.context import AdminContext
from admin.csvexport import csv_response
from admin.queries import audit as aq
from admin.queries.staff import user_names
from admin.templating import render
from bot.actions import cases as case_actions


def router(ctx: AdminContext) -> APIRouter:
    r = APIRouter()

    @r.get("/admin/audit")
    def audit_page(request: Request) -> Response:
        staff = require(ctx, request, "supervisor")
        f = aq.AuditFilters.parse(dict(request.query_params))
        with ctx.read() as session:
            rows, total, current = aq.page(session, f)
            names = user_names(session)
            actions = aq.actions(session)
        with ctx.database.write() as session:
            case_actions.record_view(
                session, action="audit.view", actor_id=staff.user_id, ip=client_ip(request)
            )
        pages = max(1, -(-total // aq.PAGE_SIZE))
        return render(
            "audit.html",
            {
                "user": staff,
                "csrf_token": staff.csrf_token,
                "rows": rows,
                "total": total,
                "page": current,
                "pages": pages,
                "f": f,
                "names": names,
                "actions": actions,
                "page_url": lambda n: "/admin/audit?" + urlencode(f.query(page=n)),
                "export_url": "/admin/audit.csv?" + urlencode(f.query(page=1)),
            },
        )

    @r.get("/admin/audit.csv")
    def audit_csv(request: Request) -> Response:
        staff = require(ctx, request, "supervisor")
        f = aq.AuditFilters.parse(dict(request.query_params))
        with ctx.read() as session:
            rows = aq.export(session, f)
            names = user_names(session)
        with ctx.database.write() as session:
            case_actions.record_view(
                session,
                action="audit.export",
                actor_id=staff.user_id,
                detail={"rows": len(rows)},
                ip=client_ip(request),
            )
        header = [
            "id",
            "日時",
            "種別",
            "操作",
            "操作者種別",
            "操作者ID",
            "対象種別",
            "対象ID",
            "詳細",
            "詳細(ことば)",
            "IP",
        ]
        body = (
            [a.id, a.at, a.action, wording.action_label(a.action), a.actor_type, a.actor_id,
             a.target_type, a.target_id, json.dumps(a.detail, ensure_ascii=False, sort_keys=True),
             wording.describe(a.action, a.detail, names), a.ip]
            for a in rows
        )  # fmt: skip
        return csv_response("marugoto-audit.csv", header, body)

    return r
