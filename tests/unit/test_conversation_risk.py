"""Issue 9 in the conversation, with the real triage: danger now puts 119 or 110 on the first
line, safeguarding names 189 or the 地域包括, crisis mode keeps booking and menus away for a
day and upgrades a new plan to danger now, and distress is met with the direct question."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.conversation import Context, State, events, step_strict
from bot.conversation.effects import MarkUrgent
from bot.conversation.machine import Step
from tests.unit.booking_port import NOW, make_port
from tests.unit.test_conversation_flow import all_text, labels, texts_of
from tests.unit.test_conversation_property import check_replies

pytest.importorskip("triage.engine")

LATER = NOW + timedelta(hours=2)


def ctx(now=NOW) -> Context:  # type: ignore[no-untyped-def]
    # A booking port, so a booking button would show wherever one is allowed.
    return Context(now=now, booking=make_port(now))


def say(text: str, state: State | None = None, now=NOW) -> Step:  # type: ignore[no-untyped-def]
    return step_strict(state or State(), events.Text(text), ctx(now))


def tap(data: str, state: State, now=NOW) -> Step:  # type: ignore[no-untyped-def]
    return step_strict(state, events.Postback(data), ctx(now))


def first_line(result: Step) -> str:
    return texts_of(result)[0].splitlines()[0]


def postback_actions(result: Step) -> list[str]:
    """Every postback's action (quick replies and card buttons) in the replies."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("action")
            if isinstance(action, dict) and action.get("type") == "postback":
                found.append(dict(p.split("=", 1) for p in action["data"].split("&"))["a"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result.replies)
    return found


def shows_booking(result: Step) -> bool:
    return "book" in postback_actions(result) or "予約" in json.dumps(
        result.replies, ensure_ascii=False
    )


def has_24h_line(result: Step) -> bool:
    return any(n in all_text(result) for n in ("0120-279-338", "0120-061-338"))


# --- danger now: 119 or 110 on the first line -------------------------------------------------


def test_an_overdose_taken_puts_119_on_the_first_line() -> None:
    result = say("さっき睡眠薬を30錠飲みました。ふらふらする")
    check_replies(result)
    assert result.urgent and isinstance(result.effects[0], MarkUrgent)
    assert "119" in first_line(result)
    assert has_24h_line(result)


def test_violence_now_puts_110_on_the_first_line() -> None:
    result = say("夫が包丁を持って暴れてる。トイレに隠れてる、助けて")
    check_replies(result)
    assert "110" in first_line(result)
    assert not shows_booking(result)


def test_shinitai_alone_has_no_emergency_number_first_but_24h_lines() -> None:
    result = say("しにたい")
    assert result.urgent
    assert "119" not in first_line(result) and "110" not in first_line(result)
    assert has_24h_line(result)


# --- safeguarding -----------------------------------------------------------------------------


def test_a_child_hit_now_gets_110_first_and_189() -> None:
    result = say("隣の家で今子どもが叩かれてて、ごめんなさいって泣き叫んでる")
    check_replies(result)
    assert "110" in first_line(result)
    assert "189" in all_text(result)
    assert not shows_booking(result)


def test_suspected_child_abuse_gets_189_without_the_direct_question() -> None:
    result = say("隣の家から毎晩子どもの泣き叫ぶ声と怒鳴り声がする")
    check_replies(result)
    assert not result.urgent
    assert "189" in all_text(result)
    assert result.state.phase != "direct_question"
    assert not shows_booking(result)


def test_an_older_person_hurt_gets_110_and_the_chiiki_houkatsu() -> None:
    result = say("同居の息子が母を殴っていて、母の顔が腫れてる。いまも怒鳴ってる")
    check_replies(result)
    assert "110" in first_line(result)
    assert "地域包括支援センター" in all_text(result)


def test_a_welfare_check_names_110_or_119_then_the_window() -> None:
    result = say("隣のおばあさんを一週間見かけない。新聞がたまってて、電気がつけっぱなし")
    check_replies(result)
    assert result.urgent
    assert "110" in first_line(result) and "119" in first_line(result)
    assert "福祉総合相談窓口" in all_text(result)
    assert not shows_booking(result)


# --- no booking in a crisis turn --------------------------------------------------------------


def test_a_crisis_about_rent_shows_the_rent_window_but_no_booking() -> None:
    result = say("家賃が3か月払えない。もう消えたい")
    check_replies(result)
    assert result.urgent
    assert "住居確保給付金" in all_text(result)
    assert not shows_booking(result)


# --- crisis mode across turns -----------------------------------------------------------------


def test_after_a_crisis_a_routine_worry_gets_no_booking_and_keeps_a_line() -> None:
    crisis = say("もう死にたい")
    assert crisis.urgent and crisis.state.crisis_at is not None
    later = say("家賃が払えないんです", crisis.state, now=LATER)
    check_replies(later)
    assert not later.urgent
    assert "住居確保給付金" in all_text(later)
    assert not shows_booking(later)
    assert has_24h_line(later)
    assert not {"menu", "start", "cat", "other"} & set(postback_actions(later))


def test_after_a_crisis_a_tapped_booking_is_handed_to_a_person() -> None:
    crisis = say("もう死にたい")
    booking = tap("a=book&w=general_desk", crisis.state, now=LATER)
    check_replies(booking)
    assert "相談員" in all_text(booking) and has_24h_line(booking)
    assert postback_actions(booking) == ["staff"]


def test_after_a_crisis_a_plan_is_danger_now() -> None:
    crisis = say("もう死にたい")
    plan = say("明日の朝、多摩川の橋から飛び降りるつもり", crisis.state, now=LATER)
    assert plan.urgent
    assert "119" in first_line(plan) or "110" in first_line(plan)


def test_crisis_mode_ends_after_a_day() -> None:
    crisis = say("もう死にたい")
    next_day = say("家賃が払えないんです", crisis.state, now=NOW + timedelta(hours=25))
    assert shows_booking(next_day)


def test_crisis_mode_lasts_while_staff_keep_the_urgent_case_open() -> None:
    crisis = say("もう死にたい")
    later = NOW + timedelta(days=3)
    context = Context(now=later, booking=make_port(later), urgent_case_open=True)
    result = step_strict(crisis.state, events.Text("家賃が払えないんです"), context)
    assert not shows_booking(result) and has_24h_line(result)


# --- the direct question ----------------------------------------------------------------------


def test_distress_is_asked_the_direct_question() -> None:
    asked = say("毎日つらくて眠れない。誰にも相談できない")
    check_replies(asked)
    assert not asked.urgent
    assert "死にたい" in texts_of(asked)[-1]
    assert labels(asked.replies[-1]) == ["はい", "いいえ", "うまく言えない"]
    assert asked.state.phase == "direct_question"


def test_a_parent_blaming_themselves_is_asked_about_themselves() -> None:
    # The message is about a child, but the heavy heart is the writer's own.
    asked = say("全部わたしが悪いんです。子どもが学校に行けなくなったのも、わたしの育て方のせい")
    assert asked.state.phase == "direct_question"
    assert "その方" not in texts_of(asked)[-1]


@pytest.mark.parametrize("answer", ["a=dq&v=yes", "a=dq&v=unsure"])
def test_yes_or_unsure_goes_to_the_crisis_path(answer: str) -> None:
    asked = say("毎日つらくて眠れない。誰にも相談できない")
    result = tap(answer, asked.state)
    check_replies(result)
    assert result.urgent and isinstance(result.effects[0], MarkUrgent)
    assert has_24h_line(result)
    assert result.state.crisis_at is not None


def test_no_goes_to_the_window_keeping_a_line() -> None:
    asked = say("毎日つらくて眠れない。誰にも相談できない")
    result = tap("a=dq&v=no", asked.state)
    check_replies(result)
    assert not result.urgent and result.effects == ()
    assert has_24h_line(result)
    assert "福祉総合相談窓口" in all_text(result)


@pytest.mark.parametrize(
    ("typed", "urgent"),
    [("うん", True), ("そう", True), ("死にたい", True), ("ちがう", False), ("いいえ", False)],
)
def test_typed_answers_are_understood(typed: str, urgent: bool) -> None:
    asked = say("毎日つらくて眠れない。誰にも相談できない")
    result = say(typed, asked.state)
    check_replies(result)
    assert result.urgent is urgent


def test_the_question_is_not_asked_twice_in_a_day() -> None:
    asked = say("毎日つらくて眠れない。誰にも相談できない")
    answered = tap("a=dq&v=no", asked.state)
    again = say("やっぱり毎日しんどい。眠れない", answered.state, now=LATER)
    assert again.state.phase != "direct_question"
    assert has_24h_line(again)


def test_a_family_member_is_asked_about_the_person() -> None:
    asked = say("息子が仕事を辞めてから毎日泣いていて、眠れていないようです")
    assert "その方" in texts_of(asked)[-1]
    yes = tap("a=dq&v=yes", asked.state)
    assert yes.urgent and has_24h_line(yes)


def test_an_english_crisis_is_answered_in_english_with_119_first() -> None:
    result = say("I took like 40 of my sleeping pills and now im scared")
    check_replies(result)
    assert result.urgent
    assert first_line(result).startswith("If a life is at risk now, call 119")
    assert "0120-279-338" in all_text(result)
    assert labels(result.replies[-1]) == ["Contact a counsellor"]
