"""The crisis policy (bot.conversation.crisis): first message, who can help now, ordering by
time of day, MarkUrgent whatever the consent state, no menus after a crisis; `concern`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.conversation import State, events, step_strict
from bot.conversation.effects import MarkUrgent
from bot.conversation.messages import has_next_step, problems
from tests.unit.test_conversation_flow import (
    NIGHT,
    OFFICE,
    SATURDAY,
    all_text,
    analysis,
    ctx_with,
    flex_windows,
    labels,
    say,
    tap,
    texts_of,
)

SUICIDAL = analysis("general_desk", urgency="crisis", signals=["suicidal"], clarify=True)


def numbers_in_order(text: str) -> list[str]:
    return re.findall(r"(?<![\d-])(#?\d[\d-]{1,13}\d)(?![\d-])", text)


def test_crisis_answer_is_first_warm_short_urgent_and_marks_the_case() -> None:
    result = say(State(), "死にたい", SUICIDAL, now=NIGHT)
    assert result.urgent
    assert problems(result.replies) == []
    first = result.replies[0]["text"]
    assert first.startswith("書いてくれて、ありがとうございます。")
    assert len(first) < 400 and len(first.splitlines()) <= 14
    assert "0120-279-338" in first  # よりそいホットライン, 24h
    assert labels(result.replies[-1]) == ["相談員に連絡してほしい"]  # no menus
    assert result.effects == (MarkUrgent(signals=("suicidal",), summary=result.state.summary),)
    assert result.state.urgency == "crisis" and result.state.crisis_at is not None
    assert "読み取れ" not in all_text(result) and "教えてください" not in all_text(result)


@pytest.mark.parametrize("consented", [False, True])
def test_mark_urgent_whatever_the_consent_state(consented: bool) -> None:
    state = State(consent_version="v", consent_hash="h", consent_given_at=OFFICE.isoformat())
    result = say(state if consented else State(), "死にたい", SUICIDAL)
    assert any(isinstance(e, MarkUrgent) for e in result.effects)


def test_at_night_24_hour_lines_come_first_and_staff_time_is_told() -> None:
    result = say(State(), "死にたい", SUICIDAL, now=NIGHT)
    first = result.replies[0]["text"]
    numbers = numbers_in_order(first)
    assert numbers[0] == "0120-279-338"
    assert "0570-783-556" not in first  # いのちの電話 (10–22時) is closed at 2 a.m.
    assert "042-386-0295" not in first  # the desk is closed
    assert "11月24日 火曜日 8時30分" in first


def test_in_office_hours_the_desk_is_named_as_open_now() -> None:
    result = say(State(), "死にたい", SUICIDAL, now=OFFICE)
    first = result.replies[0]["text"]
    assert "042-386-0295（いま 開いています）" in first
    assert "いのちの電話" in first or "#いのちSOS" in first  # open lines during the day


def test_weekend_tells_when_staff_will_read() -> None:
    result = say(State(), "死にたい", SUICIDAL, now=SATURDAY)
    assert "11月30日 月曜日 8時30分" in result.replies[0]["text"]


@pytest.mark.parametrize(
    ("signal", "first_number"),
    [("overdose", "119"), ("self_harm", "119"), ("violence_now", "110")],
)
def test_immediate_danger_puts_119_or_110_first(signal: str, first_number: str) -> None:
    result = say(State(), "…", analysis("general_desk", urgency="crisis", signals=[signal]))
    first = result.replies[0]["text"]
    assert numbers_in_order(first)[0] == first_number


def test_violence_now_lists_dv_and_abuse_lines() -> None:
    result = say(
        State(), "夫に殴られる", analysis("women", urgency="crisis", signals=["violence_now"])
    )
    first = result.replies[0]["text"]
    assert "0120-279-889" in first  # DV相談＋ (24h)


def test_child_writing_gets_childrens_lines() -> None:
    result = say(
        State(),
        "学校で…しにたい",
        analysis("child_ombuds", urgency="crisis", signals=["suicidal"]),
        now=NIGHT,
    )
    assert "0120-0-78310" in result.replies[0]["text"]  # 24時間子供SOSダイヤル


def test_routine_window_follows_after_the_crisis_message_without_booking_or_menus() -> None:
    result = say(
        State(),
        "家賃払えないしもう消えたい",
        analysis("housing_benefit", "self_reliance", urgency="crisis", signals=["suicidal"]),
        now=NIGHT,
    )
    assert len(result.replies) == 3
    assert "0120-279-338" in texts_of(result)[0]
    assert flex_windows(result) == ["住居確保給付金", "生活とお仕事の相談"]
    assert labels(result.replies[-1]) == ["相談員に連絡してほしい"]
    assert "a=book" not in str(result.replies)


def test_crisis_in_the_middle_of_a_flow_is_answered_first() -> None:
    state = State(phase="contact_phone", contact_method="phone")
    result = say(state, "もう死にたい", SUICIDAL)
    assert result.urgent and result.state.phase == "idle"


def test_negated_signals_are_not_active() -> None:
    # triage lowers 死にたくはない to concern; the qualifier keeps the signal out of topics
    result = say(
        State(),
        "死にたいとかじゃないけど",
        analysis("self_reliance", urgency="concern", signals=["suicidal:negated"]),
    )
    assert not result.urgent and result.effects == ()


def test_after_a_crisis_an_unclear_message_gets_the_desk_not_a_question() -> None:
    crisis = say(State(), "死にたい", SUICIDAL, now=NIGHT)
    later = say(crisis.state, "…", analysis("general_desk", clarify=True), now=NIGHT)
    assert flex_windows(later) == ["福祉総合相談窓口"]
    assert later.state.phase == "idle"


# --- concern --------------------------------------------------------------------------------------


@pytest.mark.parametrize("now", [NIGHT, OFFICE])
def test_concern_gets_a_gentle_check_in_with_a_24_hour_line(now: datetime) -> None:
    # Issue 9: distress without a stated wish to die is first asked the direct question;
    # いいえ brings the window with the gentle check-in and its 24-hour line.
    asked = say(
        State(),
        "病気で休職して毎日泣いてる",
        analysis("self_reliance", urgency="concern"),
        now=now,
    )
    assert labels(asked.replies[-1]) == ["はい", "いいえ", "うまく言えない"]
    result = tap(asked.state, "a=dq&v=no", now=now)
    assert not result.urgent and result.effects == ()
    assert problems(result.replies) == [] and has_next_step(result.replies[-1])
    assert texts_of(result)[0].startswith("つらい 思いを されているのですね")
    last = texts_of(result)[-1]
    assert "大丈夫ですか" in last
    assert "24時間" in last and "0120-279-338" in last
    assert labels(result.replies[-1])[0] == "いま、とてもつらい"


def test_times_are_read_in_tokyo_whatever_the_input_zone() -> None:
    utc = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 2 a.m. Tuesday in Tokyo
    result = step_strict(State(), events.Text("死にたい"), ctx_with(SUICIDAL, now=utc))
    assert "11月24日 火曜日 8時30分" in result.replies[0]["text"]
