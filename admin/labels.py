"""Japanese labels for the codes the staff UI shows (statuses, urgencies, reporters …)."""

from __future__ import annotations

from functools import cache

from knowledge.windows import WINDOW_IDS, load_windows

STATUS_LABELS: dict[str, str] = {
    "new": "新規",
    "in_progress": "対応中",
    "waiting_resident": "本人の返事待ち",
    "connected": "窓口につないだ",
    "closed": "終了",
    "back_to_bot": "ボットにもどした",
}
URGENCY_LABELS: dict[str, str] = {"crisis": "緊急", "concern": "要注意", "normal": "通常"}
REPORTER_LABELS: dict[str, str] = {
    "self": "本人",
    "family": "家族",
    "third_party": "知人・近所など",
    "unknown": "不明",
}
ROLE_LABELS: dict[str, str] = {"staff": "職員", "supervisor": "管理職", "admin": "システム管理"}
DELIVERY_LABELS: dict[str, str] = {
    "pending": "送信待ち",
    "sending": "送信中",
    "sent": "送信済み",
    "dead": "送れませんでした",
    "cancelled": "取り消し",
}


@cache
def window_names() -> dict[str, str]:
    windows = load_windows()
    return {window_id: windows[window_id].short_name for window_id in WINDOW_IDS}


def window_label(window_id: str) -> str:
    return window_names().get(window_id, window_id)
