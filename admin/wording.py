"""Staff words for what the system records: audit actions, their details, the evidence of a
triage, and a case's history with page views collapsed (one line per staff member and day).

Everything here reads content-free data (audit rows, triage summaries) and returns plain
strings for the templates, which escape them. Unknown codes fall back to a readable form,
never to an error: the data outlives the code that wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from admin import labels
from knowledge.booking import load_booking_settings
from knowledge.calendar import JST

ACTION_LABELS: dict[str, str] = {
    "case.view": "閲覧",
    "case.search": "検索",
    "case.export": "相談一覧の書き出し",
    "case.claim": "担当になった",
    "case.assign": "担当者の割り当て",
    "case.status": "状況の変更",
    "case.note": "メモ",
    "case.connected": "つなぎ先の記録",
    "message.sent": "送信",
    "message.unsend": "相談者が送信を取り消した",
    "handoff.create": "相談の受付",
    "handoff.urgent": "緊急",
    "consent.give": "同意",
    "consent.withdraw": "同意の取り消し",
    "login.ok": "ログイン",
    "login.fail": "ログインの失敗",
    "logout": "ログアウト",
    "account.create": "アカウントの作成",
    "account.disable": "アカウントの停止",
    "account.enable": "アカウントの再開",
    "account.role": "役割の変更",
    "account.password": "パスワードの変更",
    "audit.view": "監査ログの閲覧",
    "audit.export": "監査ログの書き出し",
    "report.view": "集計の閲覧",
    "report.export": "集計の書き出し",
    "slots.view": "予約枠の閲覧",
    "slot.block": "枠を止めた",
    "slot.reopen": "枠を再開した",
    "slot.capacity": "定員の変更",
    "slot.add": "日程の追加",
    "slot.cancel": "回の中止",
    "slot.move": "日程の移動",
    "booking.create": "予約",
    "booking.cancel": "予約の取り消し",
    "booking.move": "予約の移動",
    "booking.close_day": "休みの日の追加",
    "booking.reopen_day": "休みの日の取り消し",
    "resident.erase": "相談者の記録の消去",
    "resident.unfollow": "友だち解除",
    "retention.purge": "保存期間を過ぎた記録の削除",
    "outbox_dead": "LINE に送れなかった",
}

ACTOR_LABELS: dict[str, str] = {"staff": "職員", "resident": "相談者", "system": "システム"}

TARGET_LABELS: dict[str, str] = {
    "handoff": "相談",
    "resident": "相談者",
    "staff_user": "アカウント",
    "slot": "枠",
    "booking": "予約",
    "booking_closure": "休みの日",
    "outbox": "送信",
    "message": "メッセージ",
}

BASIS_LABELS: dict[str, str] = {
    "consent": "本人の同意にもとづく",
    "crisis_policy": "危機対応の方針による(要約のみ)",
    "none": "同意前(内容は非表示)",
}

LOGIN_REASONS: dict[str, str] = {
    "bad_credentials": "名前かパスワードが違う",
    "locked": "続けて失敗したため受け付けない期間",
    "ok": "",
}

#: How a lexicon term matched the resident's words (triage Evidence.via).
VIA_LABELS: dict[str, str] = {
    "lemma": "ことばの形が一致",
    "reading": "読みが一致",
    "surface": "文字が一致",
    "fuzzy": "似た書き方",
    "pattern": "危険のサインの言い回し",
}
#: A crisis pattern that was found but does not count as a present danger.
CRISIS_STATUS_LABELS: dict[str, str] = {
    "negated": "打ち消し",
    "ambiguous": "あいまい",
    "past": "過去のこと",
    "bereaved": "身近な人を亡くした話",
}

MODE_LABELS: dict[str, str] = {"visit": "来所", "phone": "電話", "line": "LINE"}

#: Detail keys shown as "label value" when an action has no sentence of its own.
DETAIL_KEYS: dict[str, str] = {
    "results": "結果",
    "rows": "件数",
    "bookings": "予約",
    "capacity": "定員",
    "slot_id": "枠",
    "new_slot_id": "新しい枠",
    "new_booking_id": "新しい予約",
    "service": "内容",
    "mode": "方法",
    "urgency": "緊急度",
    "consented": "同意",
    "version": "同意の版",
    "role": "役割",
    "messages_erased": "消した会話",
    "outbox_cancelled": "取り消した送信",
    "inbox_blanked": "消した受信",
    "handoffs_cleared": "消した相談内容",
    "slots_blocked": "止めた枠",
    "slots_reopened": "再開した枠",
    "cancelled": "予約の取り消し",
    "query_chars": "検索語の文字数",
    "reason": "理由",
    "basis": "根拠",
    "error": "理由",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def _service_names() -> dict[str, str]:
    try:
        return {s.id: s.short_name for s in load_booking_settings().services.values()}
    except Exception:  # a broken settings file must not break the history
        return {}


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "あり" if value else "なし"
    if value is None:
        return "—"
    if key == "urgency":
        return labels.URGENCY_LABELS.get(str(value), str(value))
    if key == "role":
        return labels.ROLE_LABELS.get(str(value), str(value))
    if key == "service":
        return _service_names().get(str(value), str(value))
    if key == "mode":
        return MODE_LABELS.get(str(value), str(value))
    if key == "basis":
        return BASIS_LABELS.get(str(value), str(value))
    if key == "reason":
        return LOGIN_REASONS.get(str(value), str(value))
    if key in ("results", "rows", "bookings", "messages_erased", "outbox_cancelled"):
        return f"{value}件"
    if key in ("slot_id", "new_slot_id", "new_booking_id"):
        return f"#{value}"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _person(value: Any, names: Mapping[int, str]) -> str:
    if value is None or value == "":
        return "未担当"
    try:
        return names.get(int(value), f"#{value}")
    except (TypeError, ValueError):
        return str(value)


def describe(
    action: str, detail: Mapping[str, Any] | None, names: Mapping[int, str] | None = None
) -> str:
    """The detail of an audit row in words (empty when there is nothing to add)."""
    d = dict(detail or {})
    names = names or {}
    if action == "case.status" and {"from", "to"} <= d.keys():
        status = labels.STATUS_LABELS
        return f"「{status.get(d['from'], d['from'])}」→「{status.get(d['to'], d['to'])}」"
    if action == "case.assign" and {"from", "to"} <= d.keys():
        return f"{_person(d['from'], names)} → {_person(d['to'], names)}"
    if action == "account.role" and {"from", "to"} <= d.keys():
        role = labels.ROLE_LABELS
        return f"{role.get(d['from'], d['from'])} → {role.get(d['to'], d['to'])}"
    if action == "case.connected":
        chosen = [labels.window_label(str(w)) for w in d.get("windows") or []]
        return "、".join(chosen) if chosen else "なし"
    if action == "case.view":
        return BASIS_LABELS.get(str(d.get("basis", "")), "")
    if action == "handoff.create":
        parts = []
        if "urgency" in d:
            parts.append(labels.URGENCY_LABELS.get(str(d["urgency"]), str(d["urgency"])))
        if "consented" in d:
            parts.append("同意あり" if d["consented"] else "同意なし")
        return "・".join(parts)
    if action == "handoff.urgent":
        return "緊急と判定"
    if action in ("message.sent", "case.note"):
        return ""  # ids only; the text is in the conversation or the notes
    if action == "consent.give" and "version" in d:
        return f"同意の版 {d['version']}"
    if action == "login.fail":
        return LOGIN_REASONS.get(str(d.get("reason", "")), "")
    parts = []
    for key, value in d.items():
        if key in ("note_id", "outbox_id", "message_id"):
            continue
        parts.append(f"{DETAIL_KEYS.get(key, key)} {_value(key, value)}")
    return "、".join(parts)


def evidence_line(e: Mapping[str, Any]) -> dict[str, str]:
    """One triage evidence item in words: where it points, what the resident wrote, which
    term it matched and how, and how strong a clue it is."""
    window = str(e.get("window") or "")
    if window == "crisis":
        where = "危機"
    elif window == "reporter":
        where = "相談者"
    else:
        where = labels.window_label(window)
    term = str(e.get("term") or "")
    status = ""
    if term.endswith(")") and "(" in term:
        head, _, tail = term[:-1].rpartition("(")
        if tail in CRISIS_STATUS_LABELS:
            term, status = head, CRISIS_STATUS_LABELS[tail]
    try:
        weight = float(e.get("weight") or 0.0)
    except (TypeError, ValueError):
        weight = 0.0
    strength = "強い手がかり" if weight >= 0.9 else "手がかり" if weight >= 0.5 else "弱い手がかり"
    how = VIA_LABELS.get(str(e.get("via") or ""), "")
    note = "、".join(p for p in (how, status or strength) if p)
    return {"where": where, "matched": str(e.get("matched") or ""), "term": term, "how": note}


@dataclass
class HistoryLine:
    at: datetime
    who: str
    action: str
    label: str
    detail: str
    #: Views collapsed into this line (1 for every other action).
    count: int = 1
    first_at: datetime | None = None


def history_lines(
    rows: Iterable[tuple[Any, str]], names: Mapping[int, str] | None = None
) -> list[HistoryLine]:
    """A case's audit rows (newest first) in words, every page view of one staff member on
    one JST day folded into a single line ("閲覧 3回 9:02〜16:40")."""
    out: list[HistoryLine] = []
    views: dict[tuple[str, date], HistoryLine] = {}
    for row, who in rows:
        action = str(row.action)
        if action == "case.view":
            key = (f"{row.actor_type}:{row.actor_id}", row.at.astimezone(JST).date())
            line = views.get(key)
            if line is not None:
                line.count += 1
                line.first_at = row.at
                continue
            line = HistoryLine(row.at, who, action, action_label(action), "", 1, row.at)
            line.detail = describe(action, row.detail, names)
            views[key] = line
            out.append(line)
            continue
        out.append(
            HistoryLine(
                row.at, who, action, action_label(action), describe(action, row.detail, names)
            )
        )
    return out
