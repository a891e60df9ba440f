"""The conversation state machine: start points, window answers, reporters, clarify,
media, staff chat, 削除, unfollow, malformed postbacks. Triage is injected (hand-built
Analysis objects) so these tests pin the conversation logic, not the NLP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from bot.conversation import Context, State, Step, events, fallback, step_strict
from bot.conversation.effects import CancelPending, EraseMessage, EraseResidentData, MarkUrgent
from bot.conversation.messages import has_next_step, plain_text, problems
from knowledge.calendar import JST
from knowledge.windows import get_window
from triage.analysis import Analysis, Evidence, WindowScore

OFFICE = datetime(2026, 11, 24, 10, 0, tzinfo=JST)  # Tuesday, desk open
NIGHT = datetime(2026, 11, 24, 2, 0, tzinfo=JST)  # Tuesday 2 a.m.
SATURDAY = datetime(2026, 11, 28, 14, 0, tzinfo=JST)
DESK_PHONE = "042-386-0295"


def analysis(
    *windows: str,
    urgency: str = "normal",
    reporter: str = "self",
    clarify: bool = False,
    signals: Sequence[str] = (),
    words: dict[str, str] | None = None,
) -> Analysis:
    evidence = tuple(
        Evidence(window=w, term=term, matched=term, weight=0.8, via="lemma")
        for term, w in (words or {}).items()
    )
    return Analysis(
        windows=tuple(WindowScore(w, 0.9 - i * 0.1) for i, w in enumerate(windows)),
        urgency=urgency,  # type: ignore[arg-type]
        reporter=reporter,  # type: ignore[arg-type]
        clarify=clarify,
        evidence=evidence,
        crisis_signals=tuple(signals),
    )


def ctx_with(result: Analysis | None = None, now: datetime = OFFICE, **kw: Any) -> Context:
    def analyse(text: str) -> Analysis:
        if result is None:
            raise AssertionError("this step must not triage")
        return result

    return Context(now=now, analyse=analyse, **kw)


def say(state: State, text: str, result: Analysis | None = None, **kw: Any) -> Step:
    return step_strict(state, events.Text(text), ctx_with(result, **kw))


def tap(state: State, data: str, result: Analysis | None = None, **kw: Any) -> Step:
    return step_strict(state, events.Postback(data), ctx_with(result, **kw))


def texts_of(result: Step) -> list[str]:
    return [plain_text(m) for m in result.replies]


def all_text(result: Step) -> str:
    return "\n".join(texts_of(result))


def labels(message: dict[str, Any]) -> list[str]:
    return [i["action"]["label"] for i in message.get("quickReply", {}).get("items", [])]


def data_of(message: dict[str, Any], label: str) -> str:
    for item in message.get("quickReply", {}).get("items", []):
        if item["action"]["label"] == label:
            return str(item["action"]["data"])
    raise AssertionError(f"no quick reply {label!r} in {labels(message)}")


def flex_windows(result: Step) -> list[str]:
    """Window titles shown in the Flex cards of a step."""
    titles: list[str] = []
    for message in result.replies:
        if message["type"] != "flex":
            continue
        contents = message["contents"]
        bubbles = contents["contents"] if contents["type"] == "carousel" else [contents]
        titles += [b["body"]["contents"][0]["text"] for b in bubbles]
    return titles


def assert_well_formed(result: Step) -> None:
    assert 1 <= len(result.replies) <= 5
    assert problems(result.replies) == []
    assert has_next_step(result.replies[-1]), texts_of(result)


def follow() -> Step:
    return step_strict(State(), events.Follow(), ctx_with())


# --- follow and the start points -------------------------------------------------------------


def test_follow_greets_with_what_marugoto_is_privacy_and_start_points() -> None:
    result = follow()
    assert_well_formed(result)
    text = all_text(result)
    assert "緊急の 窓口では ありません" in text
    assert "119" in text
    assert get_window("general_desk").hours.value in text  # type: ignore[union-attr]
    assert "削除" in text and "同意" in text  # how to erase; who sees what
    assert labels(result.replies[-1]) == [
        "お金・仕事",
        "住まい",
        "家族のこと",
        "ひきこもり・居場所",
        "気持ちがしんどい",
        "近所・知人が心配",
    ]
    assert result.effects == ()


def test_refollow_starts_fresh() -> None:
    state = State(phase="contact_phone", windows=("housing_benefit",), consent_version="x")
    result = step_strict(state, events.Follow(), ctx_with())
    assert result.state == State()


@pytest.mark.parametrize(
    ("start", "expect_in_text", "expect_labels"),
    [
        (
            "money",
            "お金や 仕事",
            ["家賃が払えない", "借金・支払い", "仕事のこと", "生活費が足りない"],
        ),
        ("housing", "住まいの ことですね", ["家賃が払えない", "住む家を探したい"]),
        (
            "family",
            "ご家族の ことで ご相談ですね",
            ["子ども・子育て", "高齢・介護", "ひきこもりの家族"],
        ),
        ("neighbour", "心配されているのですね", ["高齢の方", "子ども", "ひきこもりかも"]),
    ],
)
def test_start_points_ask_a_short_kind_question(
    start: str, expect_in_text: str, expect_labels: list[str]
) -> None:
    first = follow()
    result = tap(first.state, data_of(first.replies[-1], _start_label(start)))
    assert_well_formed(result)
    assert expect_in_text in all_text(result)
    assert labels(result.replies[-1])[: len(expect_labels)] == expect_labels
    assert "文字で書く" in labels(result.replies[-1])


def _start_label(key: str) -> str:
    return {
        "money": "お金・仕事",
        "housing": "住まい",
        "family": "家族のこと",
        "hikikomori": "ひきこもり・居場所",
        "feelings": "気持ちがしんどい",
        "neighbour": "近所・知人が心配",
    }[key]


def test_start_money_then_rent_shows_the_housing_benefit_with_desk_facts() -> None:
    first = follow()
    money = tap(first.state, data_of(first.replies[-1], "お金・仕事"))
    result = tap(money.state, data_of(money.replies[-1], "家賃が払えない"))
    assert_well_formed(result)
    assert flex_windows(result) == ["住居確保給付金", "生活とお仕事の相談"]
    alt = texts_of(result)[1]
    assert DESK_PHONE in alt
    assert "予約制" in all_text(result)
    assert result.state.windows == ("housing_benefit", "self_reliance")


def test_start_hikikomori_shows_the_ibasho_and_the_desk() -> None:
    first = follow()
    result = tap(first.state, data_of(first.replies[-1], "ひきこもり・居場所"))
    assert_well_formed(result)
    assert flex_windows(result) == ["居場所プロジェクト", "福祉総合相談窓口"]
    assert "毎月第1火曜日 午後3時から" in str(result.replies[1]["contents"])
    assert "家族のことです" in labels(result.replies[-1])


def test_start_feelings_checks_in_with_a_24_hour_line() -> None:
    first = follow()
    result = tap(first.state, data_of(first.replies[-1], "気持ちがしんどい"), now=NIGHT)
    assert_well_formed(result)
    text = all_text(result)
    assert "0120-279-338" in text and "24時間" in text
    assert labels(result.replies[-1])[:2] == ["いま、とてもつらい", "相談員に連絡してほしい"]
    hard = tap(result.state, data_of(result.replies[-1], "いま、とてもつらい"), now=NIGHT)
    assert_well_formed(hard)
    assert "0120-279-338" in all_text(hard)


def test_neighbour_worried_about_a_child_is_routed_with_the_abuse_line() -> None:
    first = follow()
    worry = tap(first.state, data_of(first.replies[-1], "近所・知人が心配"))
    result = tap(worry.state, data_of(worry.replies[-1], "子ども"))
    assert_well_formed(result)
    assert "心配されているのですね" in texts_of(result)[0]
    assert "189" in texts_of(result)[0]
    assert flex_windows(result) == ["こども家庭センター"]
    assert result.state.reporter == "third_party"


def test_write_button_invites_free_text() -> None:
    first = follow()
    money = tap(first.state, data_of(first.replies[-1], "お金・仕事"))
    result = tap(money.state, data_of(money.replies[-1], "文字で書く"))
    assert_well_formed(result)
    assert "書いてください" in all_text(result)


# --- free text → windows -----------------------------------------------------------------------


def test_front_door_service_answer_names_window_why_and_how_to_reach() -> None:
    result = say(
        State(), "家賃が払えない", analysis("housing_benefit", words={"家賃": "housing_benefit"})
    )
    assert_well_formed(result)
    assert result.analysis is not None
    first, card, last = result.replies
    # Issue 10: the resident's words are not quoted back as fragments.
    assert "「家賃」" not in first["text"] and "力に なれそう" in first["text"]
    body = str(card["contents"])
    for fact in (DESK_PHONE, "予約制", "小金井市社会福祉協議会内", "午前8時30分"):
        assert fact in body
    assert {"type": "uri", "label": "電話する", "uri": "tel:0423860295"} in _footer_actions(card)
    assert labels(last)[:2] == ["相談員に連絡してほしい", "ほかの窓口"]
    assert "予約する" not in labels(last)  # no booking port yet


def _footer_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    contents = card["contents"]
    bubbles = contents["contents"] if contents["type"] == "carousel" else [contents]
    return [b["action"] for bubble in bubbles for b in bubble.get("footer", {}).get("contents", [])]


def test_place_card_shows_schedule_fee_and_reservation_from_knowledge() -> None:
    result = say(State(), "居場所がほしい", analysis("hikikomori_ibasho"))
    assert_well_formed(result)
    body = str(result.replies[1]["contents"])
    for fact in ("毎月第1火曜日 午後3時から", "無料", "初回のみ要予約", "社会福祉協議会内"):
        assert fact in body
    assert f"詳しくは福祉総合相談窓口（☎{DESK_PHONE}）でご案内します" in body


@pytest.mark.parametrize("window_id", ["elderly_care", "disability", "consumer", "welfare_loan"])
def test_windows_without_facts_say_where_to_ask(window_id: str) -> None:
    result = say(State(), "相談したい", analysis(window_id))
    assert_well_formed(result)
    card = result.replies[1]
    assert f"詳しくは福祉総合相談窓口（☎{DESK_PHONE}）でご案内します" in str(card["contents"])
    assert DESK_PHONE in card["altText"]
    # no phone of its own: the call button rings the desk, nothing invented
    assert _footer_actions(card) == [
        {"type": "uri", "label": "総合相談窓口に電話", "uri": "tel:0423860295"}
    ]


def test_multi_issue_message_shows_each_need() -> None:
    result = say(
        State(),
        "母の介護と借金で",
        analysis(
            "elderly_care",
            "household_budget",
            words={"介護": "elderly_care", "借金": "household_budget"},
        ),
    )
    assert_well_formed(result)
    assert flex_windows(result) == ["地域包括支援センター", "家計のやりくり相談"]
    assert "いくつか" in texts_of(result)[0]
    assert "「介護」" not in texts_of(result)[0]  # issue 10: no quoted fragments


def test_ibasho_offered_where_relevant_and_shows_both_places() -> None:
    result = say(State(), "働くのが怖い", analysis("work_readiness"))
    assert "居場所を見る" in labels(result.replies[-1])
    places = tap(result.state, data_of(result.replies[-1], "居場所を見る"))
    assert_well_formed(places)
    assert flex_windows(places) == ["居場所プロジェクト", "ひきこもり家族の集い"]
    rent = say(State(), "家賃", analysis("housing_benefit"))
    assert "居場所を見る" not in labels(rent.replies[-1])


def test_other_windows_menu_routes_to_each_family() -> None:
    result = say(State(), "家賃", analysis("housing_benefit"))
    menu = tap(result.state, data_of(result.replies[-1], "ほかの窓口"))
    assert_well_formed(menu)
    assert len(labels(menu.replies[-1])) <= 13
    consumer = tap(menu.state, data_of(menu.replies[-1], "契約のトラブル"))
    assert_well_formed(consumer)
    assert flex_windows(consumer) == ["消費生活相談"]


def test_out_of_scope_says_where_such_questions_go_and_offers_the_desk() -> None:
    result = say(State(), "ごみの出し方", analysis("out_of_scope"))
    assert_well_formed(result)
    text = all_text(result)
    assert "市役所" in text and DESK_PHONE in text


# --- reporters ---------------------------------------------------------------------------------


def test_family_reporter_is_answered_as_family() -> None:
    result = say(
        State(), "兄が部屋から出てこない", analysis("hikikomori_family", reporter="family")
    )
    assert_well_formed(result)
    assert texts_of(result)[0].startswith("ご家族の ことで ご相談ですね")
    assert flex_windows(result) == ["ひきこもり家族の集い"]
    assert result.state.reporter == "family"


def test_neighbour_reporter_is_answered_as_such() -> None:
    result = say(State(), "隣のおばあさんが心配", analysis("elderly_care", reporter="third_party"))
    assert_well_formed(result)
    assert "ご近所" in texts_of(result)[0] and "心配されているのですね" in texts_of(result)[0]
    assert flex_windows(result) == ["地域包括支援センター"]


# --- clarify -----------------------------------------------------------------------------------


def test_unclear_asks_one_question_then_routes_the_answer() -> None:
    unclear = analysis("general_desk", clarify=True)
    asked = say(State(), "うーん", unclear)
    assert_well_formed(asked)
    assert asked.state.phase == "clarify"
    assert len(asked.replies) == 1 and "教えてください" in asked.replies[0]["text"]
    routed = tap(asked.state, data_of(asked.replies[-1], "高齢・介護"))
    assert_well_formed(routed)
    assert flex_windows(routed) == ["地域包括支援センター"]
    assert routed.state.phase == "idle"


def test_clarify_answer_in_words_routes_by_triage() -> None:
    asked = say(State(), "うーん", analysis("general_desk", clarify=True))
    routed = say(asked.state, "借金がある", analysis("household_budget"))
    assert flex_windows(routed) == ["家計のやりくり相談"]


def test_second_unclear_message_goes_to_the_general_desk_never_a_dead_end() -> None:
    unclear = analysis("general_desk", clarify=True)
    asked = say(State(), "うーん", unclear)
    fallback = say(asked.state, "なんとなく", unclear)
    assert_well_formed(fallback)
    assert flex_windows(fallback) == ["福祉総合相談窓口"]
    assert "わからない ときも" in all_text(fallback)
    assert "読み取れません" not in all_text(fallback)
    assert fallback.state.phase == "idle"


def test_unclear_message_from_a_neighbour_is_acknowledged_before_the_question() -> None:
    asked = say(
        State(), "隣から怒鳴り声", analysis("general_desk", clarify=True, reporter="third_party")
    )
    assert asked.replies[-1]["text"].startswith("ご近所や 知り合いの方を 心配されているのですね")
    assert "a=cat&k=child&r=t" in str(asked.replies[-1])


def test_no_words_are_quoted_back() -> None:
    # Issue 10 replaced "only strong words are quoted back": fragments read oddly
    # (「『いばしょ』という お話から」), so none are quoted; the window says why.
    result = say(
        State(),
        "息子が学校に行かない",
        Analysis(
            windows=(WindowScore("education", 0.8),),
            urgency="normal",
            reporter="family",
            clarify=False,
            evidence=(
                Evidence("education", "学校に行けない", "学校行かない", 0.8, "lemma"),
                Evidence("education", "息子", "息子", 0.2, "lemma"),
            ),
        ),
    )
    assert "「学校に行けない」" not in texts_of(result)[0]
    assert "という お話から" not in all_text(result)
    assert "息子" not in texts_of(result)[0]


def test_unclear_concern_checks_in_before_the_question() -> None:
    # Issue 9: the direct question comes first; after いいえ the check-in (a 24-hour line)
    # comes before the clarifying question about the topic.
    asked = say(
        State(), "なんかしんどい", analysis("general_desk", clarify=True, urgency="concern")
    )
    assert_well_formed(asked)
    assert asked.state.phase == "direct_question"
    answered = say(asked.state, "いいえ", analysis("general_desk", clarify=True))
    assert_well_formed(answered)
    assert "24時間" in all_text(answered)


# --- media, staff, postbacks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "event", [events.Media("image"), events.Media("sticker"), events.Location()]
)
def test_media_sticker_location_get_a_kind_ask_for_words(event: events.Event) -> None:
    result = step_strict(State(), event, ctx_with())
    assert_well_formed(result)
    assert "文字で 教えてください" in all_text(result)
    assert result.effects == () and result.analysis is None


def test_an_unsend_is_not_answered_and_asks_for_that_message_to_be_erased() -> None:
    state = State().evolve(phase="idle")
    result = step_strict(state, events.Unsend("325708"), ctx_with())
    assert result.replies == []
    assert result.effects == (EraseMessage("325708"),)
    assert result.state == state


def test_the_fallback_names_the_desk_and_a_24_hour_line_and_a_next_step() -> None:
    replies = fallback(datetime(2026, 11, 24, 3, 0, tzinfo=JST))
    assert problems(replies) == []
    [message] = replies
    assert has_next_step(message)
    text = plain_text(message)
    assert get_window("general_desk").phone is not None
    assert get_window("general_desk").phone.value in text
    assert "24時間" in text


def test_other_events_get_no_answer() -> None:
    result = step_strict(State(), events.Other("memberJoined"), ctx_with())
    assert result.replies == [] and result.effects == ()


def test_staff_active_says_once_that_a_person_is_reading_and_does_not_route() -> None:
    normal = analysis("housing_benefit")
    first = say(State(), "家賃が", normal, staff_active=True)
    assert len(first.replies) == 1 and "相談員が" in first.replies[0]["text"]
    assert first.analysis is normal  # still triaged for staff
    second = say(first.state, "払えない", normal, staff_active=True)
    assert second.replies == []
    # staff gone: routing again, and the notice would be said again next time
    after = say(second.state, "家賃", normal)
    assert flex_windows(after) == ["住居確保給付金"]
    assert after.state.staff_notice_shown is False


def test_staff_active_still_answers_a_crisis_first() -> None:
    result = say(
        State(staff_notice_shown=True),
        "死にたい",
        analysis("general_desk", urgency="crisis", signals=["suicidal"]),
        staff_active=True,
    )
    assert result.urgent
    assert any(isinstance(e, MarkUrgent) for e in result.effects)
    assert "0120-279-338" in texts_of(result)[0]


@pytest.mark.parametrize(
    "data",
    [
        "",
        "garbage",
        "a=",
        "a=nope",
        "a=cat&k=unknown",
        "a=start&k=",
        "a=consent&v=maybe",
        "a=erase&v=",
        "a=cat&k=rent&k=debt",
        "%ff%fe",
        "a=" + "x" * 400,
        "a=cat&" + "&".join(f"f{i}=1" for i in range(50)),
        "a=book&w=general_desk",  # no booking port: menu
    ],
)
def test_malformed_or_unknown_postbacks_show_the_menu(data: str) -> None:
    result = tap(State(), data)
    assert_well_formed(result)
    assert "どんな ことで 困っていますか" in all_text(result)


# --- 削除 and unfollow ---------------------------------------------------------------------------


def test_erase_asks_first_then_erases_and_cancels() -> None:
    state = State(windows=("housing_benefit",), consent_version="v", reporter="family")
    asked = say(state, "削除", analysis("general_desk"))
    assert_well_formed(asked)
    assert asked.state.phase == "erase_confirm"
    assert labels(asked.replies[-1]) == ["はい、消します", "いいえ"]
    assert asked.effects == ()
    done = tap(asked.state, data_of(asked.replies[-1], "はい、消します"))
    assert_well_formed(done)
    assert done.effects == (EraseResidentData(), CancelPending())
    assert done.state == State()
    assert "消しました" in all_text(done)


def test_erase_cancelled_keeps_everything() -> None:
    state = State(windows=("housing_benefit",))
    asked = say(state, "削除", analysis("general_desk"))
    kept = tap(asked.state, data_of(asked.replies[-1], "いいえ"))
    assert_well_formed(kept)
    assert kept.effects == ()
    assert kept.state.windows == ("housing_benefit",) and kept.state.phase == "idle"


def test_erase_confirmed_by_typing_hai() -> None:
    asked = say(State(), "削除して", analysis("general_desk"))
    done = say(asked.state, "はい", analysis("general_desk"))
    assert done.effects == (EraseResidentData(), CancelPending())


def test_unfollow_cancels_pending_and_says_nothing() -> None:
    result = step_strict(State(windows=("x",)), events.Unfollow(), ctx_with())
    assert result.replies == []
    assert result.effects == (CancelPending(),)


# --- state ---------------------------------------------------------------------------------------


def test_state_round_trips_and_tolerates_junk() -> None:
    state = State(
        phase="contact_time",
        windows=("housing_benefit", "self_reliance"),
        urgency="concern",
        reporter="family",
        summary={"windows": [{"id": "housing_benefit", "score": 0.8}]},
        crisis_at=OFFICE.isoformat(),
        consent_version="v1",
        consent_given_at=OFFICE.isoformat(),
        consent_hash="ab" * 32,
        contact_method="phone",
        contact_phone="090-1234-5678",
        phone_attempts=1,
        staff_notice_shown=True,
    )
    assert State.from_json(state.to_json()) == state
    assert State.from_json({}) == State()
    assert State.from_json(None) == State()
    junk = State.from_json(
        {"v": 99, "phase": "nope", "windows": "x", "phone_attempts": "3", "new_key": 1}
    )
    assert junk == State()
