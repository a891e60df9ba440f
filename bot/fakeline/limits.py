"""LINE's documented message limits that neither the SDK models nor the OpenAPI file encode.

Source: https://developers.line.biz/en/reference/messaging-api/#message-objects (text 5000,
quick reply 13 items / label 20, flex altText 1500 / bubble 30 KB / carousel 12 bubbles and
50 KB, template altText 400 …). Lengths are counted in UTF-16 code units, the stricter of the
ways LINE's servers count, so an emoji-heavy text that passes here also passes at LINE.
"""

from __future__ import annotations

import json
from typing import Any

TEXT_MAX = 5000
QUICK_REPLY_MAX_ITEMS = 13
ACTION_LABEL_MAX = 20  # quick reply buttons and templates
FLEX_ACTION_LABEL_MAX = 40  # Flex button labels may be longer (they wrap in the bubble)
POSTBACK_DATA_MAX = 300
DISPLAY_TEXT_MAX = 300
MESSAGE_ACTION_TEXT_MAX = 300
URI_MAX = 1000
FLEX_ALT_TEXT_MAX = 1500
FLEX_BUBBLE_MAX_BYTES = 30 * 1024
FLEX_CAROUSEL_MAX_BYTES = 50 * 1024
FLEX_CAROUSEL_MAX_BUBBLES = 12
TEMPLATE_ALT_TEXT_MAX = 400
BUTTONS_TEXT_MAX = 160
BUTTONS_TEXT_WITH_TITLE_MAX = 60
BUTTONS_TITLE_MAX = 40
BUTTONS_MAX_ACTIONS = 4
CONFIRM_TEXT_MAX = 240


def _len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_messages(messages: list[Any]) -> list[str]:
    """Problems LINE would answer 400 for; empty when the messages are fine."""
    problems: list[str] = []
    for index, message in enumerate(messages):
        if isinstance(message, dict):
            problems.extend(f"messages[{index}]: {p}" for p in _check_message(message))
    return problems


def _check_message(message: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    kind = message.get("type")
    if kind in ("text", "textV2"):
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append("text must be a non-empty string")
        elif _len(text) > TEXT_MAX:
            problems.append(f"text longer than {TEXT_MAX}")
    elif kind == "flex":
        problems.extend(_check_flex(message))
    elif kind == "template":
        problems.extend(_check_template(message))
    quick = message.get("quickReply")
    if isinstance(quick, dict):
        items = quick.get("items") or []
        if not isinstance(items, list) or not 1 <= len(items) <= QUICK_REPLY_MAX_ITEMS:
            problems.append(f"quickReply needs 1 to {QUICK_REPLY_MAX_ITEMS} items")
        else:
            for i, item in enumerate(items):
                action = item.get("action") if isinstance(item, dict) else None
                if not isinstance(action, dict):
                    problems.append(f"quickReply.items[{i}] has no action")
                    continue
                problems.extend(
                    f"quickReply.items[{i}].{p}"
                    for p in _check_action(action, ACTION_LABEL_MAX, label_required=True)
                )
    return problems


def _check_action(action: dict[str, Any], label_max: int, *, label_required: bool) -> list[str]:
    problems: list[str] = []
    label = action.get("label")
    if label is None:
        if label_required:
            problems.append("action.label is required")
    elif not isinstance(label, str) or not label or _len(label) > label_max:
        problems.append(f"action.label must be 1 to {label_max} characters")
    kind = action.get("type")
    if kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or _len(data) > POSTBACK_DATA_MAX:
            problems.append(f"postback data must be a string of at most {POSTBACK_DATA_MAX}")
        display = action.get("displayText")
        if display is not None and (not display or _len(str(display)) > DISPLAY_TEXT_MAX):
            problems.append(f"displayText must be 1 to {DISPLAY_TEXT_MAX} characters")
    elif kind == "message":
        text = action.get("text")
        if not isinstance(text, str) or not text or _len(text) > MESSAGE_ACTION_TEXT_MAX:
            problems.append(f"message action text must be 1 to {MESSAGE_ACTION_TEXT_MAX}")
    elif kind == "uri":
        uri = action.get("uri")
        if not isinstance(uri, str) or not uri or len(uri) > URI_MAX:
            problems.append(f"uri must be 1 to {URI_MAX} characters")
        elif not uri.startswith(("http://", "https://", "tel:", "line://", "liff://")):
            problems.append("uri scheme must be http, https, tel, line or liff")
    return problems


def _check_flex(message: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    alt = message.get("altText")
    if not isinstance(alt, str) or not alt.strip() or _len(alt) > FLEX_ALT_TEXT_MAX:
        problems.append(f"flex altText must be 1 to {FLEX_ALT_TEXT_MAX} characters")
    contents = message.get("contents")
    if isinstance(contents, dict):
        size = len(json.dumps(contents, ensure_ascii=False, separators=(",", ":")).encode())
        if contents.get("type") == "carousel":
            bubbles = contents.get("contents") or []
            if len(bubbles) > FLEX_CAROUSEL_MAX_BUBBLES:
                problems.append(f"carousel has more than {FLEX_CAROUSEL_MAX_BUBBLES} bubbles")
            if size > FLEX_CAROUSEL_MAX_BYTES:
                problems.append("carousel larger than 50 KB")
        elif size > FLEX_BUBBLE_MAX_BYTES:
            problems.append("bubble larger than 30 KB")
        problems.extend(_walk_flex(contents, "contents"))
    return problems


def _walk_flex(node: Any, path: str) -> list[str]:
    problems: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "action" and isinstance(value, dict):
                problems.extend(
                    f"{path}.action.{p}"
                    for p in _check_action(value, FLEX_ACTION_LABEL_MAX, label_required=False)
                )
            else:
                problems.extend(_walk_flex(value, f"{path}.{key}"))
        if node.get("type") == "text" and "contents" not in node:
            text = node.get("text")
            if not isinstance(text, str) or not text:
                problems.append(f"{path}: flex text component needs non-empty text")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            problems.extend(_walk_flex(item, f"{path}[{i}]"))
    return problems


def _check_template(message: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    alt = message.get("altText")
    if not isinstance(alt, str) or not alt.strip() or _len(alt) > TEMPLATE_ALT_TEXT_MAX:
        problems.append(f"template altText must be 1 to {TEMPLATE_ALT_TEXT_MAX} characters")
    template = message.get("template")
    if not isinstance(template, dict):
        return problems
    text = template.get("text")
    actions = template.get("actions") or []
    if template.get("type") == "buttons":
        titled = bool(template.get("title") or template.get("thumbnailImageUrl"))
        limit = BUTTONS_TEXT_WITH_TITLE_MAX if titled else BUTTONS_TEXT_MAX
        if not isinstance(text, str) or not text or _len(text) > limit:
            problems.append(f"buttons text must be 1 to {limit} characters")
        title = template.get("title")
        if title is not None and _len(str(title)) > BUTTONS_TITLE_MAX:
            problems.append(f"buttons title longer than {BUTTONS_TITLE_MAX}")
        if not 1 <= len(actions) <= BUTTONS_MAX_ACTIONS:
            problems.append(f"buttons needs 1 to {BUTTONS_MAX_ACTIONS} actions")
    elif template.get("type") == "confirm":
        if not isinstance(text, str) or not text or _len(text) > CONFIRM_TEXT_MAX:
            problems.append(f"confirm text must be 1 to {CONFIRM_TEXT_MAX} characters")
        if len(actions) != 2:
            problems.append("confirm needs exactly 2 actions")
    for i, action in enumerate(actions):
        if isinstance(action, dict):
            problems.extend(
                f"template.actions[{i}].{p}"
                for p in _check_action(action, ACTION_LABEL_MAX, label_required=True)
            )
    return problems
