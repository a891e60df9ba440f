"""Crisis mode: how every answer looks after a crisis turn.

For at least a day after a crisis (and while staff still have the urgent case open) the
conversation answers crisis-aware: no booking buttons, no menus, and a 24-hour line in every
answer (DESIGN.md "The conversation remembers"). Crisis and safeguarding turns themselves are
built that way; `calm` is the net under every other answer of the mode — a tapped old chip,
a rich-menu button, a follow-up question — so that no path can show 予約 or a menu to someone
who told us they were in danger an hour ago.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.conversation import crisis, messages, postback, texts
from knowledge.crisis_lines import load_crisis_lines

Json = dict[str, Any]

#: Postback actions that offer a booking or a menu (not shown in crisis mode).
BLOCKED_ACTIONS = frozenset({"book", "menu", "start", "cat", "other", "ibasho", "write"})


def blocked(action: Json) -> bool:
    if action.get("type") != "postback":
        return False
    fields = postback.decode(str(action.get("data", "")))
    return fields is not None and fields.get("a") in BLOCKED_ACTIONS


def _strip(node: Any, reservation_label: str) -> Any:
    """A copy without blocked buttons and without the card's 予約 row."""
    if isinstance(node, list):
        kept = []
        for item in node:
            action = item.get("action") if isinstance(item, dict) else None
            if isinstance(action, dict) and blocked(action):
                continue
            if _is_reservation_row(item, reservation_label):
                continue
            kept.append(_strip(item, reservation_label))
        return kept
    if isinstance(node, dict):
        return {key: _strip(value, reservation_label) for key, value in node.items()}
    return node


def _is_reservation_row(node: Any, label: str) -> bool:
    if not (isinstance(node, dict) and node.get("type") == "box"):
        return False
    contents = node.get("contents") or []
    return bool(contents) and isinstance(contents[0], dict) and contents[0].get("text") == label


def without_booking(replies: Sequence[Json]) -> list[Json]:
    """The replies without booking or menu buttons and without reservation rows."""
    label = texts.text("card.reservation")
    out: list[Json] = []
    for message in replies:
        cleaned = _strip(message, label)
        quick = cleaned.get("quickReply")
        if isinstance(quick, dict) and not quick.get("items"):
            cleaned.pop("quickReply", None)
        if cleaned.get("type") == "flex" and not _has_bubbles(cleaned.get("contents")):
            continue
        out.append(cleaned)
    return out


def _has_bubbles(contents: Any) -> bool:
    if not isinstance(contents, dict):
        return False
    if contents.get("type") == "carousel":
        return bool(contents.get("contents"))
    return contents.get("type") == "bubble"


def _mentions_a_24h_line(replies: Sequence[Json]) -> bool:
    numbers = [
        line.number
        for line in load_crisis_lines()
        if line.always_open and line.number not in ("119", "110")
    ]
    said = "\n".join(messages.plain_text(m) for m in replies)
    return any(number in said for number in numbers)


def calm(replies: Sequence[Json], now: datetime, staff_action: Json) -> list[Json]:
    """An answer fit for crisis mode: no booking or menu, a 24-hour line, a next step."""
    out = without_booking(replies)
    if not _mentions_a_24h_line(out):
        line = crisis.crisis_mode_line(now)
        texts_at = [i for i, m in enumerate(out) if m.get("type") == "text"]
        if len(out) < messages.MAX_MESSAGES and (not texts_at or texts_at[-1] != len(out) - 1):
            out.append(messages.text(line))
        else:
            at = texts_at[-1] if texts_at else len(out) - 1
            changed = dict(out[at])
            changed["text"] = messages.clip(
                f"{changed.get('text', '')}\n\n{line}", messages.TEXT_MAX
            )
            out[at] = changed
    if not messages.has_next_step(out[-1]):
        out[-1] = messages.with_actions(out[-1], [staff_action])
    return out[: messages.MAX_MESSAGES]
