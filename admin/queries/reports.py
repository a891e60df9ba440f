"""The city's indicators (評価指標) and the front door's own, from content-free columns.

Nothing here reads message text: counts come from ids, statuses, urgencies, window ids,
reporter codes and timestamps. Months are Asia/Tokyo months.

Definitions (also shown on the page):
- 相談件数: resident messages the triage read (direction "in" with a triage result), by the
  month received, the strongest window and the reporter.
- 引き継ぎ: handoffs created, by month, urgency and consent.
- 初回対応までの時間: from a handoff's creation to the first staff reply (minutes).
- 予約・出席: bookings by the month of the slot and service; attended / no-show / cancelled.
- 居場所の初参加: residents whose first attended 居場所 (ibasho) session falls in the month.
- 危機対応: resident messages on the crisis path, and crisis handoffs.
- つなぎ先: windows staff recorded a case as connected to.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.labels import REPORTER_LABELS, STATUS_LABELS, URGENCY_LABELS, window_label
from bot.models.booking import Booking, Slot
from bot.models.core import Handoff, Message
from knowledge.booking import load_booking_settings
from knowledge.calendar import JST


def service_label(service_id: str) -> str:
    """A bookable service's name on staff pages (knowledge/data/booking.yaml short_name)."""
    service = load_booking_settings().services.get(service_id)
    return service.short_name if service is not None else service_id


@dataclass
class Table:
    name: str
    title: str
    header: list[str]
    rows: list[list[Any]]
    #: (label, value) pairs for the chart; empty = no chart.
    chart: list[tuple[str, float]] = field(default_factory=list)
    chart_unit: str = "件"
    note: str = ""


def month_of(value: datetime) -> str:
    return value.astimezone(JST).strftime("%Y-%m")


def month_range(start: str, end: str) -> list[str]:
    year, month = int(start[:4]), int(start[5:7])
    out: list[str] = []
    while f"{year:04d}-{month:02d}" <= end and len(out) < 240:
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def bounds(start: str, end: str) -> tuple[datetime, datetime]:
    lo = datetime.combine(date(int(start[:4]), int(start[5:7]), 1), time.min, tzinfo=JST)
    y, m = int(end[:4]), int(end[5:7]) + 1
    if m > 12:
        y, m = y + 1, 1
    hi = datetime.combine(date(y, m, 1), time.min, tzinfo=JST)
    return lo, hi


def _primary(triage: dict[str, Any] | None) -> str:
    windows = (triage or {}).get("windows") or []
    first = windows[0] if windows and isinstance(windows[0], dict) else {}
    return str(first.get("id") or "general_desk")


def consultations(session: Session, lo: datetime, hi: datetime, months: list[str]) -> list[Table]:
    rows = session.execute(
        select(Message.created_at, Message.triage).where(
            Message.direction == "in",
            Message.triage.is_not(None),
            Message.created_at >= lo,
            Message.created_at < hi,
        )
    ).all()
    by_month: Counter[str] = Counter()
    by_window: Counter[str] = Counter()
    by_reporter: Counter[str] = Counter()
    for created_at, triage in rows:
        by_month[month_of(created_at)] += 1
        by_window[_primary(triage)] += 1
        by_reporter[str((triage or {}).get("reporter") or "unknown")] += 1
    return [
        Table(
            "consultations_by_month", "相談件数(月別)", ["月", "件数"],
            [[m, by_month[m]] for m in months],
            chart=[(m, by_month[m]) for m in months],
        ),
        Table(
            "consultations_by_window", "相談件数(窓口別)", ["窓口", "窓口ID", "件数"],
            [[window_label(w), w, n] for w, n in by_window.most_common()],
            chart=[(window_label(w), n) for w, n in by_window.most_common()],
        ),
        Table(
            "consultations_by_reporter", "相談件数(相談者別)", ["相談者", "件数"],
            [[REPORTER_LABELS.get(r, r), n] for r, n in by_reporter.most_common()],
            chart=[(REPORTER_LABELS.get(r, r), n) for r, n in by_reporter.most_common()],
        ),
    ]  # fmt: skip


def handoffs(session: Session, lo: datetime, hi: datetime, months: list[str]) -> list[Table]:
    rows = session.execute(
        select(
            Handoff.created_at, Handoff.urgency, Handoff.consented, Handoff.status,
            Handoff.first_response_at, Handoff.connected_windows,
        ).where(Handoff.created_at >= lo, Handoff.created_at < hi)
    ).all()  # fmt: skip
    per_month: dict[str, Counter[str]] = defaultdict(Counter)
    status_count: Counter[str] = Counter()
    waits: dict[str, list[float]] = defaultdict(list)
    connected: Counter[str] = Counter()
    for created_at, urgency, consented, status, first_response_at, connected_windows in rows:
        m = month_of(created_at)
        per_month[m]["total"] += 1
        per_month[m][urgency] += 1
        per_month[m]["consented"] += 1 if consented else 0
        status_count[status] += 1
        if first_response_at is not None:
            waits[m].append((first_response_at - created_at).total_seconds() / 60)
        for w in connected_windows or []:
            connected[str(w)] += 1
    handoff_rows = [
        [m, per_month[m]["total"], per_month[m]["crisis"], per_month[m]["concern"],
         per_month[m]["normal"], per_month[m]["consented"]]
        for m in months
    ]  # fmt: skip
    response_rows = []
    for m in months:
        values = waits.get(m, [])
        response_rows.append(
            [m, len(values),
             round(statistics.median(values), 1) if values else "",
             round(statistics.fmean(values), 1) if values else "",
             round(max(values), 1) if values else ""]
        )  # fmt: skip
    return [
        Table(
            "handoffs", "職員への引き継ぎ(月別)",
            ["月", "件数", "緊急", "要注意", "通常", "同意あり"], handoff_rows,
            chart=[(m, per_month[m]["total"]) for m in months],
        ),
        Table(
            "handoff_status", "引き継ぎの状況", ["状況", "件数"],
            [[STATUS_LABELS.get(s, s), n] for s, n in status_count.most_common()],
        ),
        Table(
            "first_response", "初回対応までの時間(分)",
            ["月", "対応済み件数", "中央値(分)", "平均(分)", "最長(分)"], response_rows,
            chart=[(m, _median_of(r)) for m, r in zip(months, response_rows, strict=True)],
            chart_unit="分",
            note="引き継ぎの作成から、職員が最初に LINE で返信するまで。",
        ),
        Table(
            "connections", "つなぎ先(つないだ窓口)", ["窓口", "窓口ID", "件数"],
            [[window_label(w), w, n] for w, n in connected.most_common()],
            chart=[(window_label(w), n) for w, n in connected.most_common()],
        ),
    ]  # fmt: skip


def _median_of(row: list[Any]) -> float:
    value = row[2]
    return float(value) if isinstance(value, int | float) else 0.0


def crisis(session: Session, lo: datetime, hi: datetime, months: list[str]) -> list[Table]:
    messages = session.execute(
        select(Message.created_at).where(
            Message.direction == "in", Message.urgency == "crisis",
            Message.created_at >= lo, Message.created_at < hi,
        )
    ).all()  # fmt: skip
    cases = session.execute(
        select(Handoff.created_at).where(
            Handoff.urgency == "crisis", Handoff.created_at >= lo, Handoff.created_at < hi
        )
    ).all()
    msg_count = Counter(month_of(r[0]) for r in messages)
    case_count = Counter(month_of(r[0]) for r in cases)
    return [
        Table(
            "crisis",
            "危機対応の件数",
            ["月", "危機のメッセージ", "緊急の引き継ぎ"],
            [[m, msg_count[m], case_count[m]] for m in months],
            chart=[(m, msg_count[m]) for m in months],
        )
    ]


def bookings(session: Session, lo: datetime, hi: datetime, months: list[str]) -> list[Table]:
    rows = session.execute(
        select(Slot.starts_at, Slot.service_id, Booking.status)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Slot.starts_at >= lo, Slot.starts_at < hi)
    ).all()
    per: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for starts_at, service_id, status in rows:
        per[(month_of(starts_at), service_id)][status] += 1
        per[(month_of(starts_at), service_id)]["total"] += 1
    table_rows = [
        [m, service_label(s), c["total"], c["active"], c["attended"], c["no_show"],
         c["cancelled"]]
        for (m, s), c in sorted(per.items())
    ]  # fmt: skip
    totals: Counter[str] = Counter()
    for (m, _s), c in per.items():
        totals[m] += c["total"] - c["cancelled"]
    # 居場所の初参加: the first attended ibasho session per resident.
    firsts = session.execute(
        select(Booking.resident_id, Slot.starts_at)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Slot.service_id == "ibasho", Booking.status == "attended")
        .order_by(Slot.starts_at)
    ).all()
    first_by_resident: dict[int, datetime] = {}
    for resident_id, starts_at in firsts:
        first_by_resident.setdefault(resident_id, starts_at)
    first_visits = Counter(month_of(t) for t in first_by_resident.values() if lo <= t < hi)
    return [
        Table(
            "bookings", "予約と出席", ["月", "内容", "予約", "予約中", "出席", "欠席", "取り消し"],
            table_rows, chart=[(m, totals[m]) for m in months],
            note="月は予約枠の日付。グラフは取り消しを除いた予約数。",
        ),
        Table(
            "ibasho_first_visits", "居場所の初参加", ["月", "初めて参加した人数"],
            [[m, first_visits[m]] for m in months],
            chart=[(m, first_visits[m]) for m in months], chart_unit="人",
        ),
    ]  # fmt: skip


def all_tables(session: Session, start: str, end: str) -> list[Table]:
    lo, hi = bounds(start, end)
    months = month_range(start, end)
    return [
        *consultations(session, lo, hi, months),
        *handoffs(session, lo, hi, months),
        *crisis(session, lo, hi, months),
        *bookings(session, lo, hi, months),
    ]


URGENCY_NAMES = URGENCY_LABELS
