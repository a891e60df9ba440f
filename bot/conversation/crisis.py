"""The crisis answer. Safety first (DESIGN.md principle 2); the policy, also in texts/ja.yaml:

- The crisis check (triage) runs on every text, in every phase of a flow and while a staff
  member is chatting, before anything else. Its answer is the FIRST message of the step and
  `Step.urgent` makes the service send it before anything queued.
- The message is warm and short and names who can help NOW: 119 (overdose, self-harm,
  someone else in danger) or 110 (violence now) first when danger may be immediate; then the
  crisis lines for the signals' topics, open-now and (outside office hours) 24-hour lines
  first (knowledge.crisis_lines.lines_for); during office hours also the 福祉総合相談窓口.
- It tells the resident that staff will see the message, and when (out of hours: the next
  opening, and to call a line until then), and offers to connect to a person.
- `MarkUrgent` is emitted whatever the consent state: staff see the case at once, marked
  urgent (the seeds' precedent: a 安否確認 after an e-mail with 希死念慮, 003:21). Residents
  are told of this rule in the privacy notice when they follow.
- No menus, no booking, no "I didn't understand" after a crisis hit: the only button is
  「相談員に連絡してほしい」.
- `concern` (distress without risk to life): a gentle check-in with at least one 24-hour line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.conversation import messages, texts
from bot.conversation.timefmt import desk_next_opening
from knowledge.calendar import office_is_open
from knowledge.crisis_lines import CrisisLine, lines_for, load_crisis_lines
from knowledge.windows import get_window

#: triage.crisis signal families → crisis-line topics (knowledge/data/crisis_lines.yaml).
SIGNAL_TOPICS: dict[str, tuple[str, ...]] = {
    "suicidal": ("suicide", "mental"),
    "self_harm": ("suicide", "mental"),
    "overdose": ("suicide", "mental"),
    "violence_now": ("dv", "abuse"),
    "other_in_danger": ("suicide", "general"),
}
#: Signals where danger may be immediate → the emergency number goes first.
IMMEDIATE: dict[str, str] = {
    "overdose": "119",
    "self_harm": "119",
    "other_in_danger": "119",
    "violence_now": "110",
}
#: Windows that mean a child is probably writing: add the children's lines.
_CHILD_WINDOWS = frozenset({"child_ombuds", "education"})
_LIMIT = 3


def active_signals(signals: Sequence[str]) -> tuple[str, ...]:
    """Signal families without a qualifier ("suicidal:negated" and "idiom" are not active)."""
    return tuple(dict.fromkeys(s for s in signals if ":" not in s and s in SIGNAL_TOPICS))


def topics_for(signals: Sequence[str], window_ids: Sequence[str] = ()) -> list[str]:
    topics: list[str] = []
    for signal in active_signals(signals):
        topics.extend(SIGNAL_TOPICS[signal])
    if _CHILD_WINDOWS & set(window_ids):
        topics.append("child")
    return list(dict.fromkeys(topics)) or ["suicide", "general"]


def emergency_line(signals: Sequence[str]) -> CrisisLine | None:
    number = next((IMMEDIATE[s] for s in active_signals(signals) if s in IMMEDIATE), None)
    if number is None:
        return None
    return next((line for line in load_crisis_lines() if line.number == number), None)


def crisis_lines(
    signals: Sequence[str], window_ids: Sequence[str], now: datetime
) -> tuple[CrisisLine | None, tuple[CrisisLine, ...]]:
    first = emergency_line(signals)
    skip = {"119", "110"} if first is not None else set()
    topics = topics_for(signals, window_ids)
    candidates = [line for line in lines_for(topics, now, limit=20) if line.number not in skip]
    return first, tuple(sorted(candidates, key=lambda line: _rank(line, topics, now))[:_LIMIT])


def _rank(line: CrisisLine, topics: Sequence[str], now: datetime) -> tuple[int, int, int]:
    """Open now first (24-hour lines first outside office hours), then lines made for the
    first signal's topic (DV相談＋ before a general line for violence)."""
    state = line.is_open(now)
    open_rank = 0 if state is True else 1 if state is None else 2
    night_rank = 0 if line.always_open or office_is_open(now) else 1
    primary = line.topics[0] if line.topics else ""
    specific = topics.index(primary) if primary in topics else len(topics)
    return open_rank, night_rank, specific


def _line_text(line: CrisisLine, lang: str = texts.DEFAULT_LANGUAGE) -> str:
    return texts.text(
        "crisis.line", lang=lang, name=line.name, number=line.number, hours=line.hours_text
    )


@dataclass(frozen=True, slots=True)
class Danger:
    """What the first lines of a crisis answer must say (from triage's `risk`)."""

    #: "119" / "110" to put on the very first line, or None when danger is not now.
    call: str | None = None
    #: The risk kind: self, violence, child, elder, welfare_check, other_person.
    kind: str = "self"
    #: The writer reports someone else (family, neighbour, friend).
    reporter: bool = False


#: Topics of the 24-hour lines for each kind of risk (knowledge/data/crisis_lines.yaml).
KIND_TOPICS: dict[str, tuple[str, ...]] = {
    "self": ("suicide", "mental"),
    "violence": ("dv", "abuse"),
    "child": ("abuse", "child"),
    "elder": ("general",),
    "welfare_check": ("general",),
    "other_person": ("suicide", "general"),
}


def danger_of(
    analysis_risk: object,
    reporter: str,
    signals: Sequence[str] = (),
    *,
    force_now: bool = False,
) -> Danger:
    """The danger a crisis answer speaks to. `force_now`: crisis mode saw a new plan or
    method after an earlier crisis turn, which makes it danger now. Without a `risk` (an
    analysis from an older triage), the signals decide as before: 119 for an overdose or
    self-harm, 110 for violence."""
    kind = str(getattr(analysis_risk, "kind", "self") or "self")
    call = getattr(analysis_risk, "call", None)
    if analysis_risk is None:
        line = emergency_line(signals)
        call = line.number if line is not None else None
        if any(s == "violence_now" for s in active_signals(signals)):
            kind = "violence"
    if force_now and call is None:
        call = "110" if kind in ("violence", "child", "elder", "welfare_check") else "119"
    return Danger(
        call=call if isinstance(call, str) else None,
        kind=kind,
        reporter=reporter in ("family", "third_party") or kind not in ("self", "violence"),
    )


def first_lines(danger: Danger, lang: str = texts.DEFAULT_LANGUAGE) -> list[str]:
    """The emergency line first (issue 9): 119 for an act done or an injury, 110 for
    violence or someone in danger now; a welfare check names both."""
    if danger.call is None:
        return []
    if danger.kind == "welfare_check":
        lines = [texts.text("crisis.call_welfare", lang=lang)]
    else:
        key = "crisis.call_119" if danger.call == "119" else "crisis.call_110"
        lines = [texts.text(key, lang=lang)]
    if danger.kind == "other_person":
        lines.append(texts.text("crisis.stay_with", lang=lang))
    return lines


def safeguarding_line(kind: str, now: datetime, lang: str = texts.DEFAULT_LANGUAGE) -> str | None:
    """For a child: 189 (児童相談所 虐待対応ダイヤル); for an older person: the 地域包括
    支援センター (no phone in the seeds: where to ask); for a welfare check: the desk."""
    desk = get_window("general_desk")
    phone = desk.phone.value if desk.phone else ""
    if kind == "child":
        line = abuse_line(now)
        if line is not None:
            return texts.text(
                "crisis.child_line",
                lang=lang,
                name=line.name,
                number=line.number,
                hours=line.hours_text,
            )
    if kind == "elder":
        window = get_window("elderly_care")
        return texts.text(
            "crisis.elder_line",
            lang=lang,
            window=window.short_name,
            desk=desk.short_name,
            phone=phone,
        )
    if kind == "welfare_check":
        return texts.text("crisis.welfare_next", lang=lang, desk=desk.short_name, phone=phone)
    return None


#: The 児童相談所 dial first, for an adult or a child worried about a child.
_ABUSE_LINE_ID = "jidou_189"


def abuse_line(now: datetime) -> CrisisLine | None:
    lines = lines_for(["abuse"], now, limit=5)
    preferred = [line for line in lines if line.id == _ABUSE_LINE_ID]
    return next(iter(preferred or [line for line in lines if line.always_open]), None)


def risk_message(
    danger: Danger,
    signals: Sequence[str],
    window_ids: Sequence[str],
    now: datetime,
    actions: Sequence[messages.Json],
    lang: str = texts.DEFAULT_LANGUAGE,
) -> messages.Json:
    """The crisis answer for a risk from triage: the emergency number on the first line
    when danger is now, then the safeguarding line (189, 地域包括), the 24-hour lines, who
    will read it and when, and the offer of a person."""
    parts = first_lines(danger, lang)
    opening = "crisis.reporter_opening" if danger.reporter else "crisis.opening"
    parts.append(texts.text(opening, lang=lang))
    guard = safeguarding_line(danger.kind, now, lang)
    if guard is not None:
        parts.append(guard)
    skip = {"119", "110", "189"}
    topics = [*KIND_TOPICS.get(danger.kind, ()), *topics_for(signals, window_ids)]
    topics = list(dict.fromkeys(topics))
    candidates = [line for line in lines_for(topics, now, limit=20) if line.number not in skip]
    lines = sorted(candidates, key=lambda line: _rank(line, topics, now))[:_LIMIT]
    return messages.text("\n\n".join([*parts, *_closing(lines, now, lang)]), actions)


def _closing(lines: Sequence[CrisisLine], now: datetime, lang: str) -> list[str]:
    desk = get_window("general_desk")
    body = [_line_text(line, lang) for line in lines]
    reopen = desk_next_opening(now, lang)
    if reopen is None and desk.phone is not None:
        body.append(
            texts.text("crisis.desk_open", lang=lang, desk=desk.short_name, phone=desk.phone.value)
        )
    parts = ["\n".join(body)]
    if reopen is None:
        parts.append(texts.text("crisis.staff_open", lang=lang, desk=desk.short_name))
    else:
        parts.append(texts.text("crisis.staff_closed", lang=lang, when=reopen))
    parts.append(texts.text("crisis.offer", lang=lang))
    return parts


def crisis_mode_line(now: datetime, lang: str = texts.DEFAULT_LANGUAGE) -> str:
    """The 24-hour line every answer carries while the conversation is in crisis mode."""
    line = always_open_line(["suicide", "mental"], now)
    return texts.text("crisis.mode_line", lang=lang, name=line.name, number=line.number)


def crisis_message(
    signals: Sequence[str],
    window_ids: Sequence[str],
    now: datetime,
    actions: Sequence[messages.Json],
) -> messages.Json:
    first, lines = crisis_lines(signals, window_ids, now)
    desk = get_window("general_desk")
    parts = [texts.text("crisis.opening")]
    if first is not None:
        parts.append(texts.text("crisis.danger_now", number=first.number, name=first.name))
    body = [_line_text(line) for line in lines]
    reopen = desk_next_opening(now)
    if reopen is None and desk.phone is not None:
        body.append(texts.text("crisis.desk_open", desk=desk.short_name, phone=desk.phone.value))
    parts.append("\n".join(body))
    if reopen is None:
        parts.append(texts.text("crisis.staff_open", desk=desk.short_name))
    else:
        parts.append(texts.text("crisis.staff_closed", when=reopen))
    parts.append(texts.text("crisis.offer"))
    return messages.text("\n\n".join(parts), actions)


def always_open_line(topics: Sequence[str], now: datetime) -> CrisisLine:
    """One 24-hour line for these topics (a general one if none fits)."""
    for wanted in (list(topics), ["suicide"], ["general"]):
        for line in lines_for(wanted, now, limit=10):
            if line.always_open and line.number not in {"119", "110"}:
                return line
    raise LookupError("no 24-hour crisis line in knowledge")  # pinned by knowledge tests


def concern_check_in(now: datetime, actions: Sequence[messages.Json]) -> messages.Json:
    line = always_open_line(["mental", "suicide"], now)
    return messages.text(
        texts.text("concern.check_in", name=line.name, number=line.number, hours=line.hours_text),
        actions,
    )


def very_hard_message(now: datetime, actions: Sequence[messages.Json]) -> messages.Json:
    """「いま、とてもつらい」 tapped: lines that answer now, and a person."""
    lines = lines_for(["suicide", "mental"], now, limit=_LIMIT)
    body = "\n".join(_line_text(line) for line in lines)
    return messages.text(
        "\n\n".join([texts.text("concern.very_hard"), body, texts.text("concern.very_hard_end")]),
        actions,
    )
