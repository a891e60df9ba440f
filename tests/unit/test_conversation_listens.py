"""Issue 10: a conversation that listens — typed requests work like the buttons, a greeting
gets a short welcome, a follow-up is answered in context (never the same cards twice), no
quoted fragments, every tap answered, English in and out, the next monthly session named."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.conversation import Context, State, events, step_strict
from bot.conversation.requests import typed_request
from knowledge.booking import load_booking_settings, next_sessions
from knowledge.calendar import JST
from tests.unit.booking_port import ListPort, make_port
from tests.unit.test_conversation_flow import (
    OFFICE,
    all_text,
    assert_well_formed,
    flex_windows,
    labels,
    texts_of,
)
from triage.language import detect


def real(text: str, state: State | None = None, now: datetime = OFFICE, port=None):  # type: ignore[no-untyped-def]
    return step_strict(state or State(), events.Text(text), Context(now=now, booking=port))


@pytest.mark.parametrize(
    "text",
    [
        "相談員に連絡してほしい",
        "相談員と話したい",
        "相談員さんと直接話したい",
        "電話がほしいです",
        "会って話したい",
        "直接話したい",
        "担当の人に連絡してほしい",
    ],
)
def test_typed_staff_requests_start_the_handoff_like_the_button(text: str) -> None:
    result = real(text)
    assert result.state.phase == "consent", all_text(result)
    assert "同意する" in labels(result.replies[-1])


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("メニュー", "menu"),
        ("最初から", "menu"),
        ("データを消してほしい", "erase"),
        ("削除してください", "erase"),
        ("こんにちは！", "greeting"),
        ("はじめまして", "greeting"),
        ("Hello", "greeting"),
    ],
)
def test_typed_requests(text: str, wanted: str) -> None:
    assert typed_request(text) == wanted


@pytest.mark.parametrize(
    "text", ["同じような人と話したい", "家賃が払えなくて相談したい", "人と話すのが怖い"]
)
def test_worries_are_not_requests(text: str) -> None:
    assert typed_request(text) != "staff"


def test_typed_erase_and_menu_work_like_the_buttons() -> None:
    assert real("データを消してほしい").state.phase == "erase_confirm"
    assert "どんな ことで 困っていますか" in all_text(real("メニュー"))


def test_a_greeting_gets_a_short_welcome_with_four_starting_points() -> None:
    result = real("こんにちは")
    assert_well_formed(result)
    chips = labels(result.replies[-1])
    assert chips == [
        "お金・仕事",
        "住まい",
        "家族のこと",
        "気持ちがしんどい",
        "相談員に連絡してほしい",
    ]
    assert "こんにちは" in all_text(result)


def test_a_follow_up_on_the_ibasho_is_answered_in_context_not_with_the_same_card() -> None:
    port = make_port()
    first = real("同じような人と話せる居場所がほしい", port=port)
    assert "居場所プロジェクト" in flex_windows(first)
    assert first.state.shown
    again = real("行ってみたいけど一人だとむり", state=first.state, port=port)
    assert_well_formed(again)
    assert flex_windows(again) == []  # never the same card twice in a row
    body = all_text(again)
    # what the seeds say about the first visit (knowledge/), and a person offered
    for fact in ("毎月第1火曜日 午後3時から", "社会福祉協議会内", "無料", "初回のみ要予約"):
        assert fact in body
    assert "相談員" in body
    assert "相談員に連絡してほしい" in labels(again.replies[-1])
    assert "予約する" in labels(again.replies[-1])


def test_the_same_worry_twice_names_the_windows_instead_of_repeating_the_cards() -> None:
    first = real("家賃が払えない")
    again = real("家賃が本当に払えないんです", state=first.state)
    assert flex_windows(again) == []
    assert "住居確保給付金" in all_text(again)
    # the step after the follow-up may show cards again
    third = real("家賃が払えない", state=again.state)
    assert "住居確保給付金" in flex_windows(third)


def test_no_fragments_of_the_message_are_quoted_back() -> None:
    for text in ("いばしょがほしい", "ずっと家から出てない", "家賃が払えない"):
        body = texts_of(real(text))[0]
        assert "という お話から" not in body and "『" not in body


def test_stale_and_unknown_taps_are_answered_with_where_and_what_next() -> None:
    for data in ("a=book&o=move&b=999", "a=nothing", "garbage", "a=book&o=cancel_ask&b=7"):
        result = step_strict(
            State(), events.Postback(data), Context(now=OFFICE, booking=make_port())
        )
        assert result.replies, data
        assert_well_formed(result)


def test_english_in_english_out_with_the_same_windows_numbers_and_hours() -> None:
    result = real("Hello, I lost my job and I can't pay my rent this month. What can I do?")
    assert result.analysis is not None and result.analysis.lang == "en"
    body = all_text(result)
    assert "住居確保給付金" in body  # the window's name as the city writes it
    assert "042-386-0295" in body and "08:30–17:00" in body
    assert "speak Japanese" in body and "interpret" in body  # no service promised
    assert "話してくれて" not in body
    assert result.state.lang == "en"
    assert labels(result.replies[-1])[0] == "Contact a counsellor"


def test_english_out_of_scope_points_to_the_city_kindly() -> None:
    body = all_text(real("How do I throw away large garbage like a sofa?"))
    assert "city procedure" in body and "042-386-0295" in body


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("I lost my job and can't pay rent", "en"),
        ("DVです", "ja"),
        ("OK", "ja"),
        ("LINEで連絡ほしい", "ja"),
        ("Help", "ja"),  # one token is not a language
        ("my son never leaves his room", "en"),
        ("家賃 rent 払えない", "ja"),
    ],
)
def test_language_by_script_and_words_not_one_token(text: str, lang: str) -> None:
    assert detect(text) == lang


def test_the_next_ibasho_session_is_named_when_it_is_more_than_28_days_away() -> None:
    # Wednesday 6 January 2027: the first Tuesday (5 Jan) has just passed; the next one
    # (2 February) is 27+ days on — and with a port that has no slots yet it is still named.
    now = datetime(2027, 1, 6, 12, 0, tzinfo=JST)
    service = load_booking_settings().service("ibasho")
    upcoming = next_sessions(service, now, None, 2)
    assert upcoming[0] - now > timedelta(days=26)
    empty = ListPort([])
    result = real("居場所プロジェクトを予約したい", now=now, port=empty)
    body = all_text(result)
    assert "2月2日（火）15:00" in body
    assert "予約できる日時がありません" not in body


def test_monthly_sessions_two_ahead_are_bookable() -> None:
    now = datetime(2027, 1, 6, 12, 0, tzinfo=JST)
    port = make_port(now)
    result = real("居場所プロジェクトを予約したい", now=now, port=port)
    chips = labels(result.replies[-1])
    assert chips[:2] == ["2/2（火）15:00", "3/2（火）15:00"]


def test_a_closed_day_while_moving_keeps_the_move() -> None:
    from bot.conversation.booking import BookingView

    port = make_port()
    slot = port.slots[0]
    port.bookings.append(
        BookingView(
            1, "R-1", slot.service_id, slot.starts_at, slot.ends_at, "visit", None, "active"
        )
    )
    moved = step_strict(
        State(),
        events.Postback("a=book&o=date&s=consultation&mv=1", {"date": "2026-12-05"}),
        Context(now=datetime(2026, 12, 1, 10, 0, tzinfo=JST), booking=port),
    )
    assert "空きがありません" in all_text(moved)
    datas = [i["action"].get("data", "") for i in moved.replies[-1]["quickReply"]["items"]]
    assert any("mv=1" in d and "o=pick" in d for d in datas)


def test_out_of_scope_gets_a_kind_pointer_with_a_next_step() -> None:
    result = real("粗大ごみの出し方を教えて")
    assert_well_formed(result)
    body = all_text(result)
    assert "ありがとう" in body and "ホームページ" in body and "042-386-0295" in body
