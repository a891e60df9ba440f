"""The booking dialogue as a pure state machine: what the resident sees and taps, and the
effects it asks for. The port here is an in-memory list of slots (the database-backed port
is exercised in tests/integration/test_booking_*.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.conversation import Context, State, events, step_strict, timefmt
from bot.conversation import booking as dialogue
from bot.conversation.booking import BookingView, BookSlot, CancelBooking
from bot.conversation.messages import problems
from tests.unit.booking_port import NOW, ListPort, make_port
from triage.analysis import Analysis, WindowScore


def tap(state: State, data: str, port: ListPort, params: dict[str, str] | None = None) -> Any:
    ctx = Context(now=NOW, booking=port)
    return step_strict(state, events.Postback(data, params or {}), ctx)


def say(state: State, text: str, port: ListPort, window: str = "general_desk") -> Any:
    """Typed text; triage is injected (an ordinary, non-crisis worry about `window`)."""

    def analyse(_: str) -> Analysis:
        return Analysis(
            windows=(WindowScore(window, 0.9),), urgency="normal", reporter="self", clarify=False
        )

    return step_strict(state, events.Text(text), Context(now=NOW, booking=port, analyse=analyse))


def actions_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    quick = [item["action"] for item in message.get("quickReply", {}).get("items", [])]
    footer = message.get("contents", {}).get("footer", {}).get("contents", [])
    return quick + [button["action"] for button in footer]


def fields(action: dict[str, Any]) -> dict[str, str]:
    return dict(parse_qsl(action["data"]))


def body(message: dict[str, Any]) -> str:
    if message["type"] == "text":
        return str(message["text"])
    return str(message["contents"]["body"]["contents"][0]["text"])


def test_when_text_is_tokyo_time_around_midnight_and_month_end() -> None:
    # 23:30 UTC on 30 November is 8:30 on Tuesday 1 December in Tokyo.
    assert timefmt.slot_when(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == "12月1日（火）8:30"
    assert timefmt.slot_when(datetime(2026, 12, 3, 1, 0, tzinfo=UTC)) == "12月3日（木）10:00"
    assert timefmt.short_when(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == "1/1（金）0:00"


@pytest.mark.parametrize(
    ("text", "kind", "service", "next_week"),
    [
        ("予約したい", "book", None, False),
        ("来週相談に行きたい", "book", "consultation", True),
        ("居場所を予約したい", "book", "ibasho", False),
        ("家族の集いに予約したい", "book", "family_gathering", False),
        ("予約確認", "list", None, False),
        ("予約を確認したい", "list", None, False),
        ("キャンセルしたい", "cancel", None, False),
        ("予約を変更したい", "change", None, False),
    ],
)
def test_booking_intents(text: str, kind: str, service: str | None, next_week: bool) -> None:
    intent = dialogue.booking_intent(text)
    assert intent is not None
    assert (intent.kind, intent.service_id, intent.next_week) == (kind, service, next_week)


@pytest.mark.parametrize("text", ["家賃が払えない", "こんにちは", "仕事がなくて困っています"])
def test_ordinary_worries_are_not_booking_intents(text: str) -> None:
    assert dialogue.booking_intent(text) is None


def test_full_visit_booking_flow_through_the_conversation() -> None:
    port = make_port()
    state = State()
    first = say(state, "予約したい", port)
    assert "どれを予約しますか" in body(first.replies[0])
    services = [fields(a)["s"] for a in actions_of(first.replies[0]) if fields(a).get("o") == "svc"]
    assert services == ["consultation", "ibasho", "family_gathering"]

    days = tap(first.state, "a=book&o=svc&s=consultation", port)
    day_actions = actions_of(days.replies[-1])
    assert len(day_actions) <= 13
    assert any(a["type"] == "datetimepicker" for a in day_actions)
    first_day = next(a for a in day_actions if fields(a).get("o") == "day")
    assert first_day["label"] == "12/2（水）"  # minimum notice: from the next business day

    times = tap(days.state, first_day["data"], port)
    picks = [a for a in actions_of(times.replies[-1]) if fields(a).get("o") == "pick"]
    assert picks[0]["label"] == "12/2（水）8:30"

    modes = tap(times.state, picks[0]["data"], port)
    choices = {fields(a).get("m"): a for a in actions_of(modes.replies[-1])}
    assert set(choices) >= {"visit", "phone"}

    confirm = tap(modes.state, choices["visit"]["data"], port)
    text = body(confirm.replies[-1])
    assert "12月2日（水）8:30" in text
    assert "小金井市社会福祉協議会内" in text  # the place as knowledge/ gives it
    ok = actions_of(confirm.replies[-1])[0]
    booked = tap(confirm.state, ok["data"], port)
    assert booked.replies == []  # the effect's result answers
    (effect,) = booked.effects
    assert isinstance(effect, BookSlot)
    assert (effect.slot_id, effect.mode, effect.phone) == (
        int(fields(picks[0])["sl"]),
        "visit",
        None,
    )
    # The same button twice asks for the very same booking (the database makes it one).
    again = tap(booked.state, ok["data"], port)
    assert again.effects == booked.effects
    for result in (first, days, times, modes, confirm):
        assert problems(result.replies) == []


def test_phone_booking_asks_for_a_number_and_checks_it() -> None:
    port = make_port()
    slot = port.slots[0]
    asked = tap(State(), f"a=book&o=mode&sl={slot.slot_id}&m=phone", port)
    assert "電話番号" in body(asked.replies[0])
    assert asked.state.booking["stage"] == "phone"
    wrong = say(asked.state, "0901234", port)
    assert "もう一度" in body(wrong.replies[0])
    confirm = say(wrong.state, "０９０ー１２３４ー５６７８", port)
    assert "お電話します（090-1234-5678）" in body(confirm.replies[0])
    assert confirm.state.booking == {}
    ok = fields(actions_of(confirm.replies[0])[0])
    assert ok["ph"] == "090-1234-5678" and ok["m"] == "phone"


def test_a_worry_typed_instead_of_a_number_goes_to_the_conversation() -> None:
    port = make_port()
    asked = tap(State(), f"a=book&o=mode&sl={port.slots[0].slot_id}&m=phone", port)
    answer = say(asked.state, "家賃が払えなくて困っています", port, "housing_benefit")
    assert answer.analysis is not None
    assert "電話番号" not in " ".join(body(r) for r in answer.replies if r["type"] == "text")


def test_date_picker_shows_that_day_or_the_nearest() -> None:
    port = make_port()
    picked = tap(State(), "a=book&o=date&s=consultation", port, {"date": "2026-12-04"})
    assert "12月4日（金）" in body(picked.replies[0])
    saturday = tap(State(), "a=book&o=date&s=consultation", port, {"date": "2026-12-05"})
    assert "空きがありません" in body(saturday.replies[0])
    labels = [a["label"] for a in actions_of(saturday.replies[0])]
    assert labels[0].startswith("12/7（月）")


def test_ibasho_says_only_the_first_visit_needs_a_reservation() -> None:
    port = make_port(NOW + timedelta(days=20))
    offered = tap(State(), "a=book&o=svc&s=ibasho", port)
    assert "はじめての方だけ予約が必要" in body(offered.replies[0])
    assert "2回目からは予約なしで" in body(offered.replies[0])


def test_triage_button_with_a_window_offers_that_service() -> None:
    port = make_port()
    offered = tap(State(), "a=book&w=self_reliance", port)
    assert "福祉総合相談窓口での相談" in body(offered.replies[-1])


def test_list_cancel_and_move_buttons() -> None:
    port = make_port()
    slot = port.slots[3]
    view = BookingView(
        9, "K7Q-4M2", "consultation", slot.starts_at, slot.ends_at, "visit", None, "active"
    )
    port.bookings.append(view)
    listed = say(State(), "予約確認", port)
    assert "K7Q-4M2" in body(listed.replies[0])
    ops = [fields(a).get("o") for a in actions_of(listed.replies[0])]
    assert "move" in ops and "cancel_ask" in ops
    ask = say(State(), "キャンセルしたい", port)  # one booking: straight to the question
    yes = actions_of(ask.replies[0])[0]
    assert fields(yes) == {"a": "book", "o": "cancel", "b": "9"}
    cancelled = tap(ask.state, yes["data"], port)
    assert cancelled.effects == (CancelBooking(9, offer_new=True),)
    move = tap(State(), "a=book&o=move&b=9", port)
    day = next(a for a in actions_of(move.replies[-1]) if fields(a).get("o") == "day")
    times = tap(State(), day["data"], port)
    pick = next(a for a in actions_of(times.replies[-1]) if fields(a).get("o") == "pick")
    confirm = tap(State(), pick["data"], port)
    assert "この日時に変えますか" in body(confirm.replies[0])
    moved = tap(State(), actions_of(confirm.replies[0])[0]["data"], port)
    (effect,) = moved.effects
    assert isinstance(effect, dialogue.RescheduleBooking) and effect.booking_id == 9


def test_no_free_slot_gives_the_desk_phone() -> None:
    port = ListPort([])
    offered = tap(State(), "a=book&o=svc&s=consultation", port)
    assert "042-386-0295" in body(offered.replies[-1])


def test_reminder_card_has_a_one_tap_cant_go() -> None:
    starts = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    view = BookingView(
        5, "ABC-234", "consultation", starts, starts + timedelta(hours=1), "visit", None, "active"
    )
    (message,) = dialogue.reminder_messages(view, "day_before")
    assert problems([message]) == []
    assert "12月1日（火）8:30" in body(message)
    cant_go = actions_of(message)[0]
    assert cant_go["label"] == "行けなくなった"
    assert fields(cant_go) == {"a": "book", "o": "cancel", "b": "5"}
    full = dialogue.full_messages("consultation", make_port().slots[:5])
    assert "埋まってしまいました" in body(full[0]) and problems(full) == []


def test_a_slot_taken_meanwhile_says_so_with_alternatives() -> None:
    port = make_port()
    offered = tap(State(), "a=book&o=svc&s=consultation", port)
    times = tap(State(), first_day_data(offered), port)
    pick = next(a for a in actions_of(times.replies[-1]) if fields(a).get("o") == "pick")
    taken = int(fields(pick)["sl"])
    port.slots = [s for s in port.slots if s.slot_id != taken]  # someone else took it
    answer = tap(State(), pick["data"], port)
    assert "埋まってしまいました" in body(answer.replies[-1])
    assert any(fields(a).get("o") == "day" for a in actions_of(answer.replies[-1]))


def first_day_data(result: Any) -> str:
    return str(
        next(a for a in actions_of(result.replies[-1]) if fields(a).get("o") == "day")["data"]
    )
