"""Window cards (Flex bubbles): name, what it is for, and how to reach it — facts only
from knowledge/; a window without a phone or hours there says where to ask instead."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.conversation import messages, texts
from knowledge.windows import Fact, Window, get_window

_TITLE = "#1d6b4f"
_MUTED = "#767676"
_FACT_ORDER = ("phone", "hours", "schedule", "reservation", "fee", "place")


def known_windows(ids: Sequence[str]) -> list[Window]:
    found: list[Window] = []
    for window_id in dict.fromkeys(ids):
        try:
            found.append(get_window(window_id))
        except KeyError:
            continue
    return found


def desk() -> Window:
    return get_window("general_desk")


def ask_desk_line() -> str:
    d = desk()
    phone = d.phone.value if d.phone else ""
    return texts.text("card.ask_desk", desk=d.short_name, phone=phone)


def _row(name: str, value: str) -> messages.Json:
    return {
        "type": "box",
        "layout": "baseline",
        "spacing": "sm",
        "contents": [
            {"type": "text", "text": name, "size": "xs", "color": _MUTED, "flex": 2},
            {"type": "text", "text": value, "size": "sm", "wrap": True, "flex": 7},
        ],
    }


def _facts(window: Window) -> list[tuple[str, Fact]]:
    out: list[tuple[str, Fact]] = []
    for key in _FACT_ORDER:
        fact = getattr(window, key)
        if fact is not None:
            out.append((key, fact))
    return out


def bubble(window: Window, book: messages.Json | None = None) -> messages.Json:
    body: list[messages.Json] = [
        {
            "type": "text",
            "text": window.short_name,
            "weight": "bold",
            "size": "lg",
            "wrap": True,
            "color": _TITLE,
        }
    ]
    if window.name != window.short_name:
        body.append(
            {"type": "text", "text": window.name, "size": "xxs", "color": _MUTED, "wrap": True}
        )
    body.append(
        {"type": "text", "text": window.purpose, "size": "sm", "wrap": True, "margin": "md"}
    )
    facts = _facts(window)
    rows = [_row(texts.text(f"card.{key}"), fact.value) for key, fact in facts]
    has_contact = window.phone is not None or window.hours is not None
    if not has_contact:
        rows.append(
            {"type": "text", "text": ask_desk_line(), "size": "sm", "wrap": True, "color": _MUTED}
        )
    body.append({"type": "separator", "margin": "md"})
    body.append(
        {"type": "box", "layout": "vertical", "spacing": "sm", "margin": "md", "contents": rows}
    )
    buttons: list[messages.Json] = []
    if window.phone is not None:
        buttons.append(_button(messages.tel(texts.label("call"), window.phone.value), primary=True))
    else:
        d = desk()
        if d.phone is not None:
            buttons.append(_button(messages.tel(texts.label("call_desk"), d.phone.value)))
    if book is not None:
        buttons.append(_button(book, primary=window.phone is None))
    out: messages.Json = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body},
    }
    if buttons:
        out["footer"] = {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons}
    return out


def _button(action: messages.Json, *, primary: bool = False) -> messages.Json:
    return {
        "type": "button",
        "action": action,
        "style": "primary" if primary else "secondary",
        "height": "sm",
        **({"color": _TITLE} if primary else {}),
    }


def alt_line(window: Window) -> str:
    if window.phone is not None:
        return texts.text("card.alt_line", name=window.short_name, phone=window.phone.value)
    d = desk()
    return texts.text(
        "card.alt_line_no_phone",
        name=window.short_name,
        desk=d.short_name,
        phone=d.phone.value if d.phone else "",
    )


def cards_message(
    windows: Sequence[Window],
    book_for: Callable[[Window], messages.Json | None] = lambda _w: None,
    actions: Sequence[messages.Json] = (),
) -> messages.Json:
    """One Flex message: a bubble, or a carousel for several needs. altText says it all
    in text (names and phones) for notifications and old clients."""
    bubbles = [bubble(w, book_for(w)) for w in windows]
    summary = " / ".join(alt_line(w) for w in windows)
    return messages.flex(
        texts.text("answer.cards_alt", summary=summary), messages.carousel(bubbles), actions
    )
