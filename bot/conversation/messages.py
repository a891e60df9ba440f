"""LINE message objects as plain JSON dicts, built within LINE's limits.

No LINE SDK here (the conversation stays pure); `problems()` checks the limits we rely on,
and the tests additionally parse every reply with the SDK's own models.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

MAX_MESSAGES = 5
TEXT_MAX = 5000
ALT_TEXT_MAX = 1500
LABEL_MAX = 20
QUICK_REPLY_MAX = 13
DATA_MAX = 300
DISPLAY_TEXT_MAX = 300
CAROUSEL_MAX = 12
FLEX_JSON_MAX = 30_000  # LINE: 30 KB a bubble, 50 KB a carousel; stay under the smaller

Json = dict[str, Any]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def postback(label: str, data: str, display: str | None = None) -> Json:
    """A postback action; the chat shows `display` (default: the label) as the resident's
    message, so the conversation reads naturally."""
    return {
        "type": "postback",
        "label": clip(label, LABEL_MAX),
        "data": data,
        "displayText": clip(display or label, DISPLAY_TEXT_MAX),
    }


def tel(label: str, number: str) -> Json:
    digits = "".join(ch for ch in number if ch.isdigit() or ch in "#")
    return {"type": "uri", "label": clip(label, LABEL_MAX), "uri": f"tel:{digits}"}


def quick_reply(actions: Iterable[Json]) -> Json:
    items = [{"type": "action", "action": a} for a in actions][:QUICK_REPLY_MAX]
    return {"items": items}


def text(body: str, actions: Sequence[Json] = ()) -> Json:
    message: Json = {"type": "text", "text": clip(body.strip(), TEXT_MAX)}
    if actions:
        message["quickReply"] = quick_reply(actions)
    return message


def flex(alt_text: str, contents: Json, actions: Sequence[Json] = ()) -> Json:
    message: Json = {
        "type": "flex",
        "altText": clip(alt_text.strip(), ALT_TEXT_MAX),
        "contents": contents,
    }
    if actions:
        message["quickReply"] = quick_reply(actions)
    return message


def carousel(bubbles: Sequence[Json]) -> Json:
    if len(bubbles) == 1:
        return bubbles[0]
    return {"type": "carousel", "contents": list(bubbles[:CAROUSEL_MAX])}


def with_actions(message: Json, actions: Sequence[Json]) -> Json:
    """The same message with these quick replies (replacing any)."""
    out = dict(message)
    if actions:
        out["quickReply"] = quick_reply(actions)
    else:
        out.pop("quickReply", None)
    return out


def has_next_step(message: Json) -> bool:
    return bool(message.get("quickReply", {}).get("items"))


def _actions_in(node: Any) -> Iterable[Json]:
    if isinstance(node, dict):
        if "action" in node and isinstance(node["action"], dict):
            yield node["action"]
        for value in node.values():
            yield from _actions_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _actions_in(value)


def problems(messages: Sequence[Json]) -> list[str]:
    """What breaks LINE's limits in these replies (empty list = fine)."""
    found: list[str] = []
    if len(messages) > MAX_MESSAGES:
        found.append(f"{len(messages)} messages (max {MAX_MESSAGES})")
    for index, message in enumerate(messages):
        where = f"message {index}"
        kind = message.get("type")
        if kind == "text":
            body = message.get("text", "")
            if not body or len(body) > TEXT_MAX:
                found.append(f"{where}: text length {len(body)}")
        elif kind == "flex":
            alt = message.get("altText", "")
            if not alt or len(alt) > ALT_TEXT_MAX:
                found.append(f"{where}: altText length {len(alt)}")
            size = len(json.dumps(message.get("contents"), ensure_ascii=False).encode("utf-8"))
            if size > FLEX_JSON_MAX:
                found.append(f"{where}: flex contents {size} bytes")
            contents = message.get("contents", {})
            if contents.get("type") == "carousel" and len(contents["contents"]) > CAROUSEL_MAX:
                found.append(f"{where}: carousel of {len(contents['contents'])}")
        else:
            found.append(f"{where}: unexpected type {kind!r}")
        items = message.get("quickReply", {}).get("items", [])
        if len(items) > QUICK_REPLY_MAX:
            found.append(f"{where}: {len(items)} quick replies")
        for action in _actions_in(message):
            label = action.get("label", "")
            if not label or len(label) > LABEL_MAX:
                found.append(f"{where}: label {label!r}")
            data = action.get("data")
            if data is not None and len(data) > DATA_MAX:
                found.append(f"{where}: postback data of {len(data)} characters")
            display = action.get("displayText")
            if display is not None and len(display) > DISPLAY_TEXT_MAX:
                found.append(f"{where}: displayText of {len(display)} characters")
    return found


def plain_text(message: Json) -> str:
    """What a message says, as text (text body, or a flex message's altText)."""
    if message.get("type") == "text":
        return str(message.get("text", ""))
    return str(message.get("altText", ""))
