"""Answers in English for residents who write in English (triage.language detects it).

Same windows, phone numbers and hours as the Japanese answer — all from knowledge/: the
window's name as the city writes it (to say at the desk or on the phone), its English
description (knowledge/examples/), its phone, its opening hours (calendar.yaml) and, for a
monthly session, the date of the next one. Every answer adds a plain note that the windows
speak Japanese: the seeds name no interpretation service, so none is promised. The words are
in the one text store (bot/conversation/texts/en.yaml), reviewed like the Japanese.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.conversation import booking, cards, messages, postback, texts
from knowledge.booking import load_booking_settings, next_sessions
from knowledge.calendar import opening_hours, to_jst
from knowledge.examples import load_examples
from knowledge.windows import Window
from triage.analysis import GENERAL_DESK, OUT_OF_SCOPE, Analysis

if TYPE_CHECKING:
    from bot.conversation.machine import Context, Step
    from bot.conversation.state import State

LANG = "en"
MAX_SHOWN = 3
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _t(key: str, **values: str) -> str:
    return texts.text(key, lang=LANG, **values)


def _pb(label: str, action: str, **fields: str) -> messages.Json:
    return messages.postback(texts.label(label, LANG), postback.encode(action, **fields))


def description(window: Window) -> str:
    """The window's English description (its first clause), from knowledge/examples/."""
    entry = load_examples().get(window.id)
    text = entry.description.get("en", "") if entry is not None else ""
    return text.split(";")[0].strip() or window.short_name


def hours(window: Window) -> str | None:
    """Opening hours in English from calendar.yaml (the same fact as the Japanese text)."""
    if window.opening_hours is None:
        return None
    found = opening_hours(window.id)
    if found is None:
        return None
    opens, closes = found
    return _t("english.hours", opens=opens.strftime("%H:%M"), closes=closes.strftime("%H:%M"))


def next_session(window: Window, ctx: Context) -> str | None:
    service_id = booking.service_for_window(window.id)
    if service_id is None:
        return None
    service = load_booking_settings().service(service_id)
    upcoming = next_sessions(service, ctx.now, None, 1)
    if not upcoming:
        return None
    start = to_jst(upcoming[0])
    weekday = texts.weekday(start.weekday(), LANG)
    when = f"{weekday} {start.day} {_MONTHS[start.month - 1]}, {start:%H:%M}"
    return _t("english.next_session", when=when)


def window_lines(window: Window, ctx: Context) -> list[str]:
    lines = [f"■ {window.name}", description(window)]
    phone = window.phone.value if window.phone else None
    if phone:
        lines.append(_t("english.phone", phone=phone))
    opening = hours(window)
    if opening:
        lines.append(opening)
    session = next_session(window, ctx)
    if session:
        lines.append(session)
    if not phone:
        desk = cards.desk()
        lines.append(_t("english.ask_desk", phone=desk.phone.value if desk.phone else ""))
    return lines


def answer(state: State, analysis: Analysis, ctx: Context) -> Step:
    """The English answer to an English message: the windows, or the desk when unclear."""
    from bot.conversation.machine import Step

    ids = [w for w in analysis.window_ids if w != OUT_OF_SCOPE]
    if analysis.primary == OUT_OF_SCOPE and not ids:
        desk = cards.desk()
        body = _t("english.out_of_scope", phone=desk.phone.value if desk.phone else "")
        return Step(
            state.evolve(phase="idle", lang=LANG),
            [messages.text(body, [_pb("staff", "staff"), _pb("menu", "menu")])],
        )
    shown: Sequence[Window] = cards.known_windows(ids or [GENERAL_DESK])[:MAX_SHOWN]
    if analysis.clarify or not ids:
        shown = [cards.desk()]
    parts = [_t("answer.ack_self"), _t("answer.why_plain")]
    for window in shown:
        parts.append("\n".join(window_lines(window, ctx)))
    parts.append(_t("english.language_note"))
    parts.append(_t("answer.next"))
    actions = [_pb("staff", "staff")]
    for window in shown:
        book = booking.book_action(window, ctx)
        if book is not None:
            actions.append(
                messages.postback(texts.label("book", LANG), postback.encode("book", w=window.id))
            )
            break
    actions.append(_pb("menu", "menu"))
    new_state = state.evolve(
        phase="idle",
        lang=LANG,
        windows=tuple(w.id for w in shown),
        urgency=analysis.urgency,
        reporter=analysis.reporter,
        summary={**analysis.to_json(), "crisis_signals": list(analysis.crisis_signals)},
    )
    return Step(new_state, [messages.text("\n\n".join(parts), actions)])
