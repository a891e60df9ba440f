"""The conversation: a pure state machine, `step(state, event, ctx) -> Step`.

No database, no HTTP, no LINE SDK: the service gives it the stored state, the event and the
time, and stores what comes back (new state, replies, effects) in one transaction. All
wording comes from the text store (bot/conversation/texts); all facts (phones, hours,
places) and the menu from knowledge/.

Order of checks on a text (principles in DESIGN.md):
1. crisis (every text, every phase, also while staff chat) — see bot.conversation.crisis;
2. the resident's rights: 「削除」 and 「同意をやめる」;
3. the flow the resident is in (consent, contact, erase confirmation, clarifying question);
4. staff chatting: no routing, say once that a person is reading;
5. routing: triage → windows, or one clarifying question, then the 福祉総合相談窓口.
"""

from __future__ import annotations

import logging
import traceback
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import triage
from bot.conversation import (
    booking,
    calm,
    cards,
    crisis,
    direct,
    english,
    events,
    followup,
    messages,
    postback,
    requests,
    texts,
)
from bot.conversation.effects import (
    CancelPending,
    ConsentRecord,
    ContactMethod,
    CreateHandoff,
    Effect,
    EraseMessage,
    EraseResidentData,
    GiveConsent,
    MarkUrgent,
    WithdrawConsent,
)
from bot.conversation.phone import normalise_phone
from bot.conversation.state import State
from bot.conversation.timefmt import desk_next_opening
from knowledge.crisis_lines import lines_for
from knowledge.menu import load_menu
from knowledge.windows import Window
from triage.analysis import GENERAL_DESK, OUT_OF_SCOPE, Analysis

log = logging.getLogger(__name__)

Json = dict[str, Any]

#: How long after a crisis hit unclear messages go straight to a person's desk (no
#: clarifying questions) and a handoff stays marked crisis.
CRISIS_MEMORY = timedelta(hours=24)
MAX_WINDOWS_SHOWN = 3
CONTACT_TIME_MAX = 60

_ERASE = frozenset({"削除", "削除して", "削除する", "削除したい", "削除してください", "データ削除"})
_WITHDRAW = frozenset(
    {"同意をやめる", "同意をやめます", "同意を取り消す", "同意を取り消します", "同意撤回"}
)
_MENU = frozenset({"メニュー", "はじめから", "最初から"})
_YES = frozenset({"はい", "うん", "同意する", "同意します", "ok", "OK", "はい、消します"})
_NO = frozenset({"いいえ", "いや", "やめておく", "やめる", "やめます"})
_TRAILING = " 　。.!！?？、,"


@dataclass(frozen=True, slots=True)
class Context:
    """What the service knows besides the state: the time, the triage, staff, booking."""

    now: datetime
    analyse: Callable[[str], Analysis] = triage.analyse
    staff_active: bool = False
    booking: booking.BookingPort | None = None
    #: Staff still have an urgent (crisis) case of this resident open: crisis mode goes on
    #: past its day until they close it.
    urgent_case_open: bool = False

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("Context.now must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Step:
    state: State
    replies: list[Json] = field(default_factory=list)
    effects: tuple[Effect, ...] = ()
    #: A crisis answer: the service sends it before anything else queued.
    urgent: bool = False
    #: The triage of this event's text (stored for staff), if there was text.
    analysis: Analysis | None = None


# --- the menu (knowledge/data/menu.yaml): start points, categories, 「ほかの窓口」 ------------

_REPORTER_CODES = {"s": "self", "f": "family", "t": "third_party"}
_PLACES = ("hikikomori_ibasho", "hikikomori_family")
_IBASHO_RELATED = frozenset({"hikikomori_ibasho", "hikikomori_family", "work_readiness"})


# --- actions (buttons) ---------------------------------------------------------------------


def _pb(label_name: str, action: str, **fields: str) -> Json:
    return messages.postback(texts.label(label_name), postback.encode(action, **fields))


def _start_actions() -> list[Json]:
    return [_pb(f"start_{point.id}", "start", k=point.id) for point in load_menu().start_points]


def _category_action(key: str, reporter: str | None = None) -> Json:
    fields = {"k": key}
    code = {v: k for k, v in _REPORTER_CODES.items()}.get(reporter or "")
    if code:
        fields["r"] = code
    return _pb(f"cat_{key}", "cat", **fields)


def _staff_action() -> Json:
    return _pb("staff", "staff")


def _pb_lang(label_name: str, action: str, *, lang: str, **fields: str) -> Json:
    return messages.postback(texts.label(label_name, lang), postback.encode(action, **fields))


def _next_actions(shown: Sequence[Window], ctx: Context) -> list[Json]:
    actions = [_staff_action()]
    ids = {w.id for w in shown}
    if ids & _IBASHO_RELATED and not set(_PLACES) <= ids:
        actions.append(_pb("ibasho", "ibasho"))
    actions.append(_pb("other", "other"))
    for window in shown:
        book = booking.book_action(window, ctx)
        if book is not None:
            actions.append(book)
            break
    actions.append(_pb("menu", "menu"))
    return actions


# --- entry point ---------------------------------------------------------------------------


def step(state: State, event: events.Event, ctx: Context) -> Step:
    """One event in, the answer out. Never raises for any event content: if something goes
    wrong, the resident still gets the 福祉総合相談窓口 and a 24-hour line."""
    try:
        return step_strict(state, event, ctx)
    except Exception as error:
        log.error("conversation step failed (event %s): %s", type(event).__name__, _where(error))
        return _fallback(state, ctx)


def _where(error: BaseException) -> str:
    """The error's type and where it was raised — never its message, which may quote the
    resident's words (privacy: logs carry ids, not text)."""
    frames = traceback.extract_tb(error.__traceback__)
    place = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return type(error).__name__ + place


def step_strict(state: State, event: events.Event, ctx: Context) -> Step:
    """`step` without the safety net (tests use it to see real errors)."""
    if not ctx.staff_active and state.staff_notice_shown:
        state = state.evolve(staff_notice_shown=False)
    # The cards the last answer showed: only the answer right after it may read them (a
    # follow-up, never the same cards twice in a row); every step starts without them.
    previous = state.shown
    state = state.evolve(shown=())
    if isinstance(event, events.Follow):
        return _follow()
    if isinstance(event, events.Unfollow):
        return Step(State(), [], (CancelPending(),))
    if isinstance(event, events.Text):
        return _in_mode(state, _on_text(state, event.text, ctx, previous), ctx)
    if isinstance(event, events.Postback):
        data = booking.with_picked_date(event.data, event.params)
        return _in_mode(state, _on_postback(state, data, ctx), ctx)
    if isinstance(event, events.Media):
        return Step(state, [messages.text(texts.text("media.text"), _start_actions())])
    if isinstance(event, events.Location):
        return Step(state, [messages.text(texts.text("media.location"), _start_actions())])
    if isinstance(event, events.Unsend):
        # No answer (a reply to a message they took back would be odd); just forget it.
        return Step(state, [], (EraseMessage(event.message_id),))
    return Step(state)  # events.Other: nothing to say


def _crisis_mode(state: State, ctx: Context) -> bool:
    """At least a day after a crisis turn, and while staff keep the urgent case open."""
    return _recent_crisis(state, ctx.now) or ctx.urgent_case_open


def _in_mode(before: State, step: Step, ctx: Context) -> Step:
    """Crisis mode's net (bot.conversation.calm) under every answer that is not itself a
    crisis turn: no booking, no menu, a 24-hour line in every answer."""
    if step.urgent or not (_crisis_mode(before, ctx) or _crisis_mode(step.state, ctx)):
        return step
    if not step.replies:
        return step
    return replace(step, replies=calm.calm(step.replies, ctx.now, _staff_action()))


def _fallback(state: State, ctx: Context) -> Step:
    return Step(state.evolve(phase="idle"), fallback(ctx.now))


def fallback(now: datetime) -> list[messages.Json]:
    """The answer when something went wrong on our side: the 福祉総合相談窓口 and a 24-hour
    line, with the usual next steps. Also sent by the worker when it gives up on an event
    (bot.worker.inbox), so that no message is met with silence."""
    desk = cards.desk()
    line = crisis.always_open_line(["general"], now)
    body = texts.text(
        "error.fallback",
        desk=desk.short_name,
        phone=desk.phone.value if desk.phone else "",
        name=line.name,
        number=line.number,
    )
    return [messages.text(body, [_staff_action(), *_start_actions()])]


# --- follow --------------------------------------------------------------------------------


def _follow() -> Step:
    desk = cards.desk()
    hours = desk.hours.value if desk.hours else ""
    replies = [
        messages.text(texts.text("follow.welcome", desk=desk.short_name, hours=hours)),
        messages.text(texts.text("follow.privacy")),
        messages.text(texts.text("follow.ask"), _start_actions()),
    ]
    return Step(State(), replies)


def _menu(state: State) -> Step:
    return Step(
        state.evolve(phase="idle"), [messages.text(texts.text("menu.ask"), _start_actions())]
    )


# --- text ----------------------------------------------------------------------------------


def _command(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().rstrip(_TRAILING).replace(" ", "")


def _on_text(state: State, text: str, ctx: Context, previous: tuple[str, ...] = ()) -> Step:
    command = _command(text)
    phone = normalise_phone(text) if state.phase in ("contact_phone", "contact_method") else None
    if phone is not None:
        # A phone number given for a call back is not a worry: it is not triaged.
        return _phone_given(state, phone, ctx)
    try:
        analysis = ctx.analyse(text)
    except Exception as error:
        # The resident still gets the desk and a 24-hour line, and can still erase.
        log.error("triage failed, answered with the fallback: %s", _where(error))
        if command in _ERASE:
            return _erase_confirm(state)
        if command in _WITHDRAW:
            return _withdraw(state)
        return _fallback(state, ctx)
    if analysis.urgency == "crisis":
        return _crisis(state, analysis, ctx)
    if state.phase == "direct_question":
        answer = direct.read_answer(text)
        if answer is not None:
            return replace(_direct_answered(state, answer, ctx), analysis=analysis)
    step = _text_by_phase(state, command, text, analysis, ctx, previous)
    return Step(step.state, step.replies, step.effects, step.urgent, analysis)


def _text_by_phase(
    state: State,
    command: str,
    text: str,
    analysis: Analysis,
    ctx: Context,
    previous: tuple[str, ...] = (),
) -> Step:
    request = requests.typed_request(text)
    if command in _ERASE or request == "erase":
        return _erase_confirm(state)
    if command in _WITHDRAW:
        return _withdraw(state)
    if command in _MENU or request == "menu":
        return _menu(state)
    phase = state.phase
    if phase == "erase_confirm" and (command in _YES or command in _NO):
        return _erase(state, command in _YES)
    if phase == "consent" and (command in _YES or command in _NO):
        return _consent(state, command in _YES, ctx)
    if phase == "contact_phone":
        return _bad_phone(state)
    if phase == "contact_time_free" and command:
        return _finish_handoff(state, messages.clip(text.strip(), CONTACT_TIME_MAX), ctx)
    if ctx.staff_active:
        if state.staff_notice_shown:
            return Step(state.evolve(phase="idle"))
        notice = messages.text(texts.text("staff.reading"))
        return Step(state.evolve(phase="idle", staff_notice_shown=True), [notice])
    # A typed request works like its button (README: 「相談員に連絡してほしい」).
    if request == "staff":
        return _pb_staff(state, {}, ctx)
    if _crisis_mode(state, ctx) and booking.handle_text_step(state, text, ctx) is not None:
        return _booking_in_crisis_mode(state, ctx)
    booked = booking.handle_text_step(state, text, ctx)
    if booked is not None:
        return booked
    if request == "greeting":
        return _greeting(state, analysis)
    if analysis.lang == "en":
        return english.answer(state, analysis, ctx)
    if previous and _follows_up(analysis, previous):
        return _follow_up(state, text, previous, ctx)
    return _route(state, analysis, ctx)


#: The start points a greeting offers: the most common worries, not every category.
_GREETING_POINTS = ("money", "housing", "family", "feelings")


def _greeting(state: State, analysis: Analysis) -> Step:
    points = [p for p in load_menu().start_points if p.id in _GREETING_POINTS]
    actions = [_pb(f"start_{p.id}", "start", k=p.id) for p in points]
    return Step(
        state.evolve(phase="idle"),
        [messages.text(texts.text("greeting.welcome"), [*actions, _staff_action()])],
    )


def _follows_up(analysis: Analysis, previous: tuple[str, ...]) -> bool:
    """Right after a window answer: a message that names no other worry (vague, or the same
    windows again) is about what was just shown."""
    if analysis.urgency != "normal":
        return False  # crisis and concern keep their own paths (a check-in, a 24-hour line)
    ids = [w for w in analysis.window_ids if w != OUT_OF_SCOPE]
    return analysis.clarify or not ids or analysis.primary in previous


def _follow_up(state: State, text: str, previous: tuple[str, ...], ctx: Context) -> Step:
    shown = cards.known_windows(previous)
    places = [w for w in shown if w.kind == "place"]
    actions = [_staff_action()]
    for window in shown:
        book = booking.book_action(window, ctx)
        if book is not None:
            actions.append(book)
            break
    actions += [_pb("other", "other"), _pb("menu", "menu")]
    if places and followup.worried_about_going(text):
        body = followup.first_visit_text(places[0])
        line = _next_session_line(places[0], ctx)
        if line:
            body += "\n" + line
    else:
        body = followup.same_topic_text(shown)
    return Step(state.evolve(phase="idle"), [messages.text(body, actions)])


def _next_session_line(window: Window, ctx: Context) -> str | None:
    """「居場所プロジェクトの 次の回は 1月5日（火）15:00からです。予約は…」 for a monthly
    session, whatever the date (knowledge/), with how to reserve it."""
    service = booking.service_for_window(window.id)
    if service is None:
        return None
    line = booking.next_session_text(service, ctx.now)
    if line is None:
        return None
    if booking.book_action(window, ctx) is not None:
        how = texts.text("answer.next_session_book")
    else:
        desk = cards.desk()
        how = texts.text(
            "answer.next_session_ask",
            desk=desk.short_name,
            phone=desk.phone.value if desk.phone else "",
        )
    return texts.text("answer.next_session", line=line, book=how)


def _recent_crisis(state: State, now: datetime) -> bool:
    return _within(state.crisis_at, now, CRISIS_MEMORY)


def _within(iso: str | None, now: datetime, span: timedelta) -> bool:
    if not iso:
        return False
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return False
    if at.tzinfo is None:
        return False
    return now - at < span


def _summary(analysis: Analysis) -> dict[str, Any]:
    return {**analysis.to_json(), "crisis_signals": list(analysis.crisis_signals)}


def _route(state: State, analysis: Analysis, ctx: Context) -> Step:
    ids = [w for w in analysis.window_ids if w != OUT_OF_SCOPE]
    if analysis.primary == OUT_OF_SCOPE and not analysis.clarify:
        return _out_of_scope(state, analysis)
    remembered = state.evolve(
        urgency=analysis.urgency, reporter=analysis.reporter, summary=_summary(analysis)
    )
    if analysis.urgency == "concern" and not _crisis_mode(state, ctx):
        # A child, an older person, violence, someone not seen: the line for it. A person
        # who is low (self, or a friend or family member) is asked the direct question.
        if analysis.risk is not None and analysis.risk.kind not in ("self", "other_person"):
            return _safeguarding_concern(remembered, analysis, ids or [GENERAL_DESK], ctx)
        if not _asked_recently(state, ctx.now):
            return _ask_direct(remembered, analysis, ids or [GENERAL_DESK], ctx)
    if analysis.clarify:
        if state.phase == "clarify" or _recent_crisis(state, ctx.now):
            return _answer(
                remembered,
                [GENERAL_DESK],
                analysis.reporter,
                ctx,
                lead=texts.text("clarify.fallback"),
                concern=analysis.urgency == "concern",
            )
        return _clarify(remembered, analysis, ctx)
    return _answer(
        remembered,
        ids or [GENERAL_DESK],
        analysis.reporter,
        ctx,
        analysis=analysis,
        concern=analysis.urgency == "concern",
        calm_mode=_crisis_mode(state, ctx),
    )


# --- the direct question (bot.conversation.direct) ------------------------------------------

#: Once answered, the direct question is not asked again for this long.
DIRECT_QUESTION_MEMORY = timedelta(hours=24)


def _asked_recently(state: State, now: datetime) -> bool:
    return _within(state.direct_asked_at, now, DIRECT_QUESTION_MEMORY)


def _ask_direct(state: State, analysis: Analysis, window_ids: Sequence[str], ctx: Context) -> Step:
    """Distress without a stated wish to die: ask, gently and concretely (MHLW SNS相談)."""
    about_other = analysis.reporter in ("family", "third_party")
    actions = [
        _pb("dq_yes", "dq", v="yes"),
        _pb("dq_no", "dq", v="no"),
        _pb("dq_unsure", "dq", v="unsure"),
    ]
    question = texts.text("direct.ask_other" if about_other else "direct.ask")
    asked = state.evolve(
        phase="direct_question",
        windows=tuple(window_ids),
        direct_asked_at=ctx.now.isoformat(),
    )
    return Step(asked, [messages.text(question, actions)])


def _pb_direct(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    value = fields.get("v")
    if value not in ("yes", "no", "unsure"):
        return None
    answer: direct.Answer = "yes" if value == "yes" else "no" if value == "no" else "unsure"
    return _direct_answered(state, answer, ctx)


def _direct_answered(state: State, answer: direct.Answer, ctx: Context) -> Step:
    windows = state.windows or (GENERAL_DESK,)
    about_other = state.reporter in ("family", "third_party")
    if answer == "no":
        return _answer(
            state.evolve(phase="idle"),
            windows,
            state.reporter,
            ctx,
            lead=texts.text("direct.said_no"),
            concern=True,
        )
    # はい or うまく言えない: the crisis path, whatever the consent (staff alerted).
    danger = crisis.Danger(kind="other_person" if about_other else "self", reporter=about_other)
    signals = ("direct_question:" + answer,)
    first = crisis.risk_message(danger, signals, windows, ctx.now, [_staff_action()])
    if answer == "unsure":
        first = dict(first, text=texts.text("direct.unsure") + "\n" + first["text"])
    summary = {**state.summary, "direct_question": answer}
    new_state = state.evolve(
        phase="idle", urgency="crisis", summary=summary, crisis_at=ctx.now.isoformat()
    )
    return Step(new_state, [first], (MarkUrgent(signals=signals, summary=summary),), True)


def _safeguarding_concern(
    state: State, analysis: Analysis, window_ids: Sequence[str], ctx: Context
) -> Step:
    """A suspected (not ongoing) harm to a child or an older person, or someone not seen:
    the line for it first (189, 地域包括, the desk; 110 if it becomes now), then the window —
    never a booking button."""
    kind = analysis.risk.kind if analysis.risk is not None else "self"
    extra = _safeguard_text(kind, ctx.now)
    step = _answer(
        state, window_ids, analysis.reporter, ctx, analysis=analysis, extra=extra, calm_mode=True
    )
    return replace(step, replies=calm.without_booking(step.replies))


def _safeguard_text(kind: str, now: datetime) -> str | None:
    desk = cards.desk()
    phone = desk.phone.value if desk.phone else ""
    if kind == "child":
        line = crisis.abuse_line(now)
        if line is None:
            return None
        return texts.text(
            "safeguard.child", name=line.name, number=line.number, hours=line.hours_text
        )
    if kind == "elder":
        window = cards.known_windows(["elderly_care"])
        name = window[0].short_name if window else desk.short_name
        return texts.text("safeguard.elder", window=name, desk=desk.short_name, phone=phone)
    if kind == "welfare_check":
        return texts.text("safeguard.welfare", desk=desk.short_name, phone=phone)
    if kind == "violence":
        lines = [line for line in lines_for(["dv"], now, limit=5) if line.always_open]
        if not lines:
            return None
        line = lines[0]
        return texts.text(
            "safeguard.violence", name=line.name, number=line.number, hours=line.hours_text
        )
    return None


def _booking_in_crisis_mode(state: State, ctx: Context) -> Step:
    """A booking asked for in crisis mode: a person decides it with them (no slot list)."""
    body = texts.text("crisis.mode_booking") + "\n\n" + crisis.crisis_mode_line(ctx.now)
    return Step(state.evolve(phase="idle"), [messages.text(body, [_staff_action()])])


def _clarify(state: State, analysis: Analysis, ctx: Context) -> Step:
    replies: list[Json] = []
    if analysis.urgency == "concern":
        replies.append(crisis.concern_check_in(ctx.now, ()))
    choices = [_category_action(key, analysis.reporter) for key in load_menu().clarify]
    question = texts.text("clarify.ask")
    if analysis.reporter in ("family", "third_party"):
        question = _ack(analysis.reporter, False) + "\n" + question
    replies.append(messages.text(question, [*choices, _staff_action()]))
    return Step(state.evolve(phase="clarify", windows=(GENERAL_DESK,)), replies)


def _out_of_scope(state: State, analysis: Analysis) -> Step:
    desk = cards.desk()
    body = texts.text(
        "out_of_scope.text", desk=desk.short_name, phone=desk.phone.value if desk.phone else ""
    )
    return Step(
        state.evolve(phase="idle", windows=(GENERAL_DESK,), summary=_summary(analysis)),
        [messages.text(body, [_pb("other", "other"), *_start_actions()])],
    )


def _ack(reporter: str, concern: bool) -> str:
    if reporter == "family":
        return texts.text("answer.ack_family")
    if reporter == "third_party":
        return texts.text("answer.ack_third_party")
    if concern:
        return texts.text("answer.ack_concern")
    return texts.text("answer.ack_self")


def _needs(shown: Sequence[Window]) -> int:
    """How many different needs these windows answer: the front door's services count as one,
    and the 福祉総合相談窓口 itself (everyone's fallback) as none."""
    kinds = {"front" if w.kind == "front_door_service" else w.id for w in shown}
    return len(kinds - {GENERAL_DESK})


def _answer(
    state: State,
    window_ids: Sequence[str],
    reporter: str,
    ctx: Context,
    *,
    analysis: Analysis | None = None,
    lead: str | None = None,
    concern: bool = False,
    extra: str | None = None,
    calm_mode: bool = False,
) -> Step:
    """Ack + why, the window cards, and the next steps (or a check-in when `concern`).
    `calm_mode` (crisis mode, safeguarding): no booking, a person and a 24-hour line."""
    shown = cards.known_windows(window_ids)[:MAX_WINDOWS_SHOWN] or [cards.desk()]
    lines = [_ack(reporter, concern)]
    if lead:
        lines.append(lead)
    else:
        # Never quote the resident's words back as fragments (「『いばしょ』という お話から」).
        lines.append(texts.text("answer.why_plain"))
        if _needs(shown) > 1:
            lines.append(texts.text("answer.why_many"))
    if extra:
        lines.append(extra)
    if calm_mode:
        replies = [
            messages.text("\n".join(lines)),
            cards.cards_message(shown),
            messages.text(
                texts.text("crisis.mode_next") + "\n\n" + crisis.crisis_mode_line(ctx.now),
                [_staff_action()],
            ),
        ]
        new_state = state.evolve(
            phase="idle", windows=tuple(w.id for w in shown), reporter=reporter or state.reporter
        )
        return Step(new_state, calm.without_booking(replies))
    for window in shown:
        line = _next_session_line(window, ctx)
        if line:
            lines.append(line)
    actions = _next_actions(shown, ctx)
    replies = [
        messages.text("\n".join(lines)),
        cards.cards_message(shown, lambda w: booking.book_action(w, ctx)),
    ]
    if concern:
        actions = [_pb("very_hard", "feel", v="hard"), *actions]
        replies.append(crisis.concern_check_in(ctx.now, actions))
    else:
        replies.append(messages.text(_next_text(shown), actions))
    new_state = state.evolve(
        phase="idle",
        windows=tuple(w.id for w in shown),
        reporter=reporter or state.reporter,
        shown=tuple(w.id for w in shown),
    )
    return Step(new_state, replies)


def _next_text(shown: Sequence[Window]) -> str:
    desk = cards.desk()
    if any(w.kind in ("front_door", "front_door_service") and w.phone for w in shown):
        return texts.text("answer.next_reserve", desk=desk.short_name)
    return texts.text("answer.next")


# --- crisis --------------------------------------------------------------------------------


#: Axes that, in crisis mode, make a new message danger now (a plan or a method after an
#: earlier crisis turn: DESIGN.md "The conversation remembers").
_ESCALATING = frozenset({"plan", "method", "timing", "act", "preparation"})


def _crisis(state: State, analysis: Analysis, ctx: Context) -> Step:
    """The crisis policy (module docstring of bot.conversation.crisis)."""
    ids = list(analysis.window_ids)
    frames = set(analysis.risk.frames) if analysis.risk is not None else set()
    escalate = _crisis_mode(state, ctx) and bool(frames & _ESCALATING)
    danger = crisis.danger_of(
        analysis.risk, analysis.reporter, analysis.crisis_signals, force_now=escalate
    )
    # Foreign residents who wrote in English get the crisis answer in English.
    lang = analysis.lang if analysis.lang in texts.languages() else texts.DEFAULT_LANGUAGE
    staff = _pb_lang("staff", "staff", lang=lang)
    first = crisis.risk_message(danger, analysis.crisis_signals, ids, ctx.now, [staff], lang)
    replies = [first]
    routine = [w for w in cards.known_windows(ids) if w.id not in (GENERAL_DESK, OUT_OF_SCOPE)][:2]
    if routine:
        # The routine window (rent, a child's school) follows — never with a booking.
        replies.append(cards.cards_message(routine))
        after = texts.text("crisis.after_routine", lang=lang)
        replies.append(messages.text(after, [staff]))
    replies = calm.without_booking(replies)
    summary = _summary(analysis)
    new_state = state.evolve(
        phase="idle",
        windows=tuple(w.id for w in routine) or (GENERAL_DESK,),
        urgency="crisis",
        reporter=analysis.reporter,
        summary=summary,
        crisis_at=ctx.now.isoformat(),
    )
    effect = MarkUrgent(signals=tuple(analysis.crisis_signals), summary=summary)
    return Step(new_state, replies, (effect,), True, analysis)


# --- postbacks -----------------------------------------------------------------------------


def _on_postback(state: State, data: str, ctx: Context) -> Step:
    fields = postback.decode(data)
    handler = _POSTBACKS.get(fields["a"]) if fields is not None else None
    result = handler(state, fields, ctx) if handler is not None and fields is not None else None
    # A stale, expired or unknown tap is still answered: where the resident is, what next.
    return result if result is not None else _stale(state)


def _stale(state: State) -> Step:
    actions = [_pb("booking_list", "book", o="list"), _staff_action(), *_start_actions()]
    body = texts.text("stale.tap") + "\n\n" + texts.text("menu.ask")
    return Step(state.evolve(phase="idle"), [messages.text(body, actions)])


def _pb_start(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    point = load_menu().start_point(fields.get("k", ""))
    if point is None:
        return None
    fresh = state.evolve(phase="idle")
    if point.flow is not None:
        return _FLOWS[point.flow](fresh, ctx)
    choices = [_category_action(key, point.reporter) for key in point.choices]
    if point.reporter is not None:
        fresh = fresh.evolve(reporter=point.reporter)
    return Step(fresh, [messages.text(texts.text(f"start.{point.id}"), [*choices, _write()])])


def _write() -> Json:
    return _pb("write", "write")


def _pb_write(state: State, fields: dict[str, str], ctx: Context) -> Step:
    return Step(
        state.evolve(phase="idle"),
        [messages.text(texts.text("start.write"), [_pb("menu", "menu")])],
    )


def _hikikomori(state: State, ctx: Context) -> Step:
    shown = cards.known_windows(("hikikomori_ibasho", GENERAL_DESK))
    actions = [
        _staff_action(),
        _pb("family_hikikomori", "cat", k="hikikomori_family", r="f"),
        _pb("other", "other"),
    ]
    book = next((a for w in shown if (a := booking.book_action(w, ctx)) is not None), None)
    if book is not None:
        actions.append(book)
    replies = [
        messages.text(texts.text("start.hikikomori")),
        cards.cards_message(shown, lambda w: booking.book_action(w, ctx)),
        messages.text(_next_text(shown), actions),
    ]
    return Step(state.evolve(windows=tuple(w.id for w in shown)), replies)


def _feelings(state: State, ctx: Context) -> Step:
    line = crisis.always_open_line(["mental", "suicide"], ctx.now)
    body = texts.text("start.feelings", name=line.name, number=line.number, hours=line.hours_text)
    actions = [_pb("very_hard", "feel", v="hard"), _staff_action(), _write()]
    new_state = state.evolve(windows=(GENERAL_DESK,), urgency="concern")
    return Step(new_state, [messages.text(body, actions)])


def _pb_feel(state: State, fields: dict[str, str], ctx: Context) -> Step:
    return Step(
        state.evolve(phase="idle", urgency="concern"),
        [crisis.very_hard_message(ctx.now, [_staff_action()])],
    )


def _pb_category(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    key = fields.get("k", "")
    category = load_menu().categories.get(key)
    if category is None:
        return None
    if category.flow:
        return _FLOWS[key](state.evolve(phase="idle"), ctx)
    windows = category.windows
    reporter = category.reporter or _REPORTER_CODES.get(fields.get("r", "")) or "self"
    extra = None
    if key == "neighbour_child":
        line = crisis.abuse_line(ctx.now)
        if line is not None:
            extra = texts.text(
                "neighbour_child.danger_line",
                name=line.name,
                number=line.number,
                hours=line.hours_text,
            )
    remembered = state.evolve(urgency="normal", summary={"category": key})
    return _answer(remembered, windows, reporter, ctx, extra=extra)


def _pb_ibasho(state: State, fields: dict[str, str], ctx: Context) -> Step:
    shown = cards.known_windows(_PLACES)
    actions = [_staff_action(), _pb("other", "other")]
    book = next((a for w in shown if (a := booking.book_action(w, ctx)) is not None), None)
    if book is not None:
        actions.append(book)
    actions.append(_pb("menu", "menu"))
    replies = [
        messages.text(texts.text("ibasho.intro")),
        cards.cards_message(shown, lambda w: booking.book_action(w, ctx), actions),
    ]
    return Step(state.evolve(phase="idle"), replies)


def _pb_other(state: State, fields: dict[str, str], ctx: Context) -> Step:
    choices = [_category_action(key) for key in load_menu().other]
    return Step(state.evolve(phase="idle"), [messages.text(texts.text("other.ask"), choices)])


def _pb_menu(state: State, fields: dict[str, str], ctx: Context) -> Step:
    return _menu(state)


def _pb_book(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    if ctx.booking is None:
        return None
    if _crisis_mode(state, ctx):
        return _booking_in_crisis_mode(state, ctx)
    return booking.handle(state, fields, ctx)


# --- consent and handoff -------------------------------------------------------------------


def _has_consent(state: State) -> bool:
    return (
        state.consent_version == texts.consent_version()
        and state.consent_hash == texts.consent_hash()
        and state.consent_given_at is not None
    )


def _pb_staff(state: State, fields: dict[str, str], ctx: Context) -> Step:
    if _has_consent(state):
        return _ask_contact_method(state)
    actions = [_pb("consent_yes", "consent", v="yes"), _pb("consent_no", "consent", v="no")]
    return Step(state.evolve(phase="consent"), [messages.text(texts.consent_text(), actions)])


def _pb_consent(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    value = fields.get("v")
    if value not in ("yes", "no"):
        return None
    return _consent(state, value == "yes", ctx)


def _consent(state: State, yes: bool, ctx: Context) -> Step:
    if not yes:
        actions = [_pb("other", "other"), _pb("menu", "menu")]
        return Step(
            state.evolve(phase="idle"), [messages.text(texts.text("handoff.declined"), actions)]
        )
    record = ConsentRecord(
        version=texts.consent_version(), given_at=ctx.now, text_hash=texts.consent_hash()
    )
    given = state.evolve(
        consent_version=record.version,
        consent_given_at=record.given_at.isoformat(),
        consent_hash=record.text_hash,
    )
    step = _ask_contact_method(given)
    return Step(step.state, step.replies, (GiveConsent(record),))


def _ask_contact_method(state: State) -> Step:
    actions = [
        _pb("contact_line", "contact", m="line"),
        _pb("contact_phone", "contact", m="phone"),
    ]
    return Step(
        state.evolve(
            phase="contact_method", contact_method=None, contact_phone=None, phone_attempts=0
        ),
        [messages.text(texts.text("handoff.contact_method"), actions)],
    )


def _pb_contact(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    if not _has_consent(state):
        return _pb_staff(state, fields, ctx)
    method = fields.get("m")
    if method == "line":
        return _ask_time(state.evolve(contact_method="line", contact_phone=None))
    if method == "phone":
        return Step(
            state.evolve(phase="contact_phone", contact_method="phone", phone_attempts=0),
            [
                messages.text(
                    texts.text("handoff.ask_phone"), [_pb("contact_line", "contact", m="line")]
                )
            ],
        )
    return None


def _phone_given(state: State, phone: str, ctx: Context) -> Step:
    if not _has_consent(state):
        return _pb_staff(state, {}, ctx)
    return _ask_time(state.evolve(contact_method="phone", contact_phone=phone, phone_attempts=0))


def _bad_phone(state: State) -> Step:
    return Step(
        state.evolve(phone_attempts=min(state.phone_attempts + 1, 100)),
        [
            messages.text(
                texts.text("handoff.bad_phone"), [_pb("contact_line", "contact", m="line")]
            )
        ],
    )


def _ask_time(state: State) -> Step:
    actions = [
        _pb("time_am", "time", v="am"),
        _pb("time_pm", "time", v="pm"),
        _pb("time_any", "time", v="any"),
        _pb("time_free", "time", v="free"),
    ]
    return Step(
        state.evolve(phase="contact_time"), [messages.text(texts.text("handoff.ask_time"), actions)]
    )


def _pb_time(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    if not _has_consent(state) or state.contact_method not in ("line", "phone"):
        return _pb_staff(state, fields, ctx)
    value = fields.get("v")
    if value == "free":
        return Step(
            state.evolve(phase="contact_time_free"),
            [
                messages.text(
                    texts.text("handoff.ask_time_free"), [_pb("time_any", "time", v="any")]
                )
            ],
        )
    if value in ("am", "pm", "any"):
        return _finish_handoff(state, texts.text(f"time.contact_{value}"), ctx)
    return None


def _finish_handoff(state: State, contact_time: str, ctx: Context) -> Step:
    if not _has_consent(state) or state.contact_method not in ("line", "phone"):
        return _pb_staff(state, {}, ctx)
    given_at = datetime.fromisoformat(state.consent_given_at or ctx.now.isoformat())
    record = ConsentRecord(
        version=state.consent_version or texts.consent_version(),
        given_at=given_at,
        text_hash=state.consent_hash or texts.consent_hash(),
    )
    urgency = "crisis" if _recent_crisis(state, ctx.now) else state.urgency
    method: ContactMethod = "phone" if state.contact_method == "phone" else "line"
    effect = CreateHandoff(
        urgency=urgency,
        reporter=state.reporter,
        windows=state.windows or (GENERAL_DESK,),
        summary=dict(state.summary),
        consented=True,
        consent=record,
        contact_method=method,
        contact_phone=state.contact_phone if method == "phone" else None,
        contact_time=contact_time,
    )
    reopen = desk_next_opening(ctx.now)
    parts = [
        texts.text("handoff.done_open")
        if reopen is None
        else texts.text("handoff.done_closed", when=reopen)
    ]
    if method == "phone" and state.contact_phone:
        parts.append(texts.text("handoff.done_phone_tail", phone=state.contact_phone))
    else:
        parts.append(texts.text("handoff.done_line_tail"))
    if urgency in ("crisis", "concern"):
        line = crisis.always_open_line(["suicide", "mental"], ctx.now)
        parts.append(texts.text("handoff.done_safety", name=line.name, number=line.number))
    new_state = state.evolve(
        phase="idle", contact_method=None, contact_phone=None, phone_attempts=0
    )
    actions = [_pb("other", "other"), _pb("menu", "menu")]
    return Step(new_state, [messages.text("\n".join(parts), actions)], (effect,))


def _withdraw(state: State) -> Step:
    had = state.consent_version is not None
    body = texts.text("handoff.withdrawn" if had else "handoff.not_given")
    new_state = state.evolve(
        phase="idle",
        consent_version=None,
        consent_given_at=None,
        consent_hash=None,
        contact_method=None,
        contact_phone=None,
    )
    actions = [_staff_action(), _pb("menu", "menu")] if had else [_pb("menu", "menu")]
    return Step(new_state, [messages.text(body, actions)], (WithdrawConsent(),))


def _pb_withdraw(state: State, fields: dict[str, str], ctx: Context) -> Step:
    return _withdraw(state)


# --- 削除 ----------------------------------------------------------------------------------


def _erase_confirm(state: State) -> Step:
    actions = [_pb("erase_yes", "erase", v="yes"), _pb("erase_no", "erase", v="no")]
    return Step(
        state.evolve(phase="erase_confirm"), [messages.text(texts.text("erase.confirm"), actions)]
    )


def _erase(state: State, yes: bool) -> Step:
    if not yes:
        return Step(
            state.evolve(phase="idle"),
            [messages.text(texts.text("erase.kept"), _start_actions())],
        )
    return Step(
        State(),
        [messages.text(texts.text("erase.done"), _start_actions())],
        (EraseResidentData(), CancelPending()),
    )


def _pb_erase(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    value = fields.get("v")
    if value == "ask":
        return _erase_confirm(state)
    if value not in ("yes", "no"):
        return None
    return _erase(state, value == "yes")


#: The menu's flow categories (knowledge/data/menu.yaml `flow: true`), each answered by a
#: flow of its own; a flow in the data without one here stops the program at import.
_FLOWS: dict[str, Callable[[State, Context], Step]] = {
    "hikikomori": _hikikomori,
    "feelings": _feelings,
}
_unknown_flows = {c.id for c in load_menu().categories.values() if c.flow} - set(_FLOWS)
if _unknown_flows:
    raise ValueError(f"knowledge/data/menu.yaml: no conversation flow for {sorted(_unknown_flows)}")

_POSTBACKS: dict[str, Callable[[State, dict[str, str], Context], Step | None]] = {
    "start": _pb_start,
    "cat": _pb_category,
    "write": _pb_write,
    "feel": _pb_feel,
    "ibasho": _pb_ibasho,
    "other": _pb_other,
    "menu": _pb_menu,
    "book": _pb_book,
    "staff": _pb_staff,
    "consent": _pb_consent,
    "contact": _pb_contact,
    "time": _pb_time,
    "withdraw": _pb_withdraw,
    "erase": _pb_erase,
    "dq": _pb_direct,
}
