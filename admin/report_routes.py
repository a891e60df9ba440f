"""Reports (supervisors): tables, SVG charts and CSV exports, without any message text."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from admin.auth import PageError, client_ip, require
from admin.charts import bar_chart
from admin.context import AdminContext
from admin.csvexport import csv_response
from admin.queries import reports as rq
from admin.templating import render
from bot.actions import cases as case_actions
from knowledge.calendar import JST

MONTH = re.compile(r"^(19|20)\d\d-(0[1-9]|1[0-2])$")


def _period(request: Request, now: datetime) -> tuple[str, str]:
    today = now.astimezone(JST)
    end = f"{today.year:04d}-{today.month:02d}"
    year, month = today.year, today.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    start = f"{year:04d}-{month:02d}"
    given_start = request.query_params.get("from", "")
    given_end = request.query_params.get("to", "")
    if MONTH.match(given_start):
        start = given_start
    if MONTH.match(given_end):
        end = given_end
    if start > end:
        start, end = end, start
    return start, end


def router(ctx: AdminContext) -> APIRouter:
    r = APIRouter()

    @r.get("/admin/reports")
    def reports(request: Request) -> Response:
        staff = require(ctx, request, "supervisor")
        start, end = _period(request, ctx.clock())
        with ctx.read() as session:
            tables = rq.all_tables(session, start, end)
        with ctx.database.write() as session:
            case_actions.record_view(
                session, action="report.view", actor_id=staff.user_id, ip=client_ip(request)
            )
        charts = {
            t.name: bar_chart(t.title, [c[0] for c in t.chart], [c[1] for c in t.chart],
                              unit=t.chart_unit)
            for t in tables
            if t.chart
        }  # fmt: skip
        return render(
            "reports.html",
            {
                "user": staff,
                "csrf_token": staff.csrf_token,
                "tables": tables,
                "charts": charts,
                "start": start,
                "end": end,
            },
        )

    @r.get("/admin/reports/{name}.csv")
    def report_csv(request: Request, name: str) -> Response:
        staff = require(ctx, request, "supervisor")
        start, end = _period(request, ctx.clock())
        with ctx.read() as session:
            tables = {t.name: t for t in rq.all_tables(session, start, end)}
        table = tables.get(name)
        if table is None:
            raise PageError(404, "その集計はありません。")
        with ctx.database.write() as session:
            case_actions.record_view(
                session,
                action="report.export",
                actor_id=staff.user_id,
                target_type="report",
                target_id=name,
                detail={"rows": len(table.rows)},
                ip=client_ip(request),
            )
        return csv_response(f"marugoto-{name}-{start}-{end}.csv", table.header, table.rows)

    return r
