"""Consent and handoff: explicit consent with a recorded version and text hash, contact by
LINE or a validated phone number, a good time, the handoff, withdrawal; phone validation;
texts.yaml checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.conversation import State, texts
from bot.conversation.effects import (
    ConsentRecord,
    CreateHandoff,
    GiveConsent,
    MarkUrgent,
    WithdrawConsent,
)
from bot.conversation.phone import normalise_phone
from bot.conversation.texts import TextsError
from tests.unit.test_conversation_flow import (
    NIGHT,
    OFFICE,
    SATURDAY,
    all_text,
    analysis,
    assert_well_formed,
    data_of,
    labels,
    say,
    tap,
)

RENT = analysis("housing_benefit", "self_reliance", reporter="family")


def routed() -> State:
    return say(State(), "家賃", RENT).state


def consented(now=OFFICE) -> tuple[State, GiveConsent]:  # type: ignore[no-untyped-def]
    asked = tap(routed(), "a=staff", now=now)
    yes = tap(asked.state, data_of(asked.replies[-1], "同意する"), now=now)
    (effect,) = yes.effects
    assert isinstance(effect, GiveConsent)
    return yes.state, effect


def test_staff_button_asks_explicit_consent_saying_what_who_and_how_to_withdraw() -> None:
    asked = tap(routed(), "a=staff")
    assert_well_formed(asked)
    text = asked.replies[0]["text"]
    assert text == texts.consent_text()
    assert "福祉総合相談窓口の 相談員" in text  # who sees it
    assert "やりとり" in text  # what is shared
    assert "同意をやめる" in text  # how to withdraw
    assert labels(asked.replies[-1]) == ["同意する", "やめておく"]
    assert asked.effects == ()
    assert asked.state.phase == "consent"


def test_consent_records_version_time_and_hash_of_the_exact_text() -> None:
    state, effect = consented()
    expected_hash = hashlib.sha256(texts.consent_text().encode()).hexdigest()
    assert effect.record == ConsentRecord(
        version=texts.consent_version(), given_at=OFFICE, text_hash=expected_hash
    )
    assert state.phase == "contact_method"


def test_declining_consent_creates_nothing_and_offers_a_next_step() -> None:
    asked = tap(routed(), "a=staff")
    no = tap(asked.state, data_of(asked.replies[-1], "やめておく"))
    assert_well_formed(no)
    assert no.effects == ()
    assert "つなぎません" in all_text(no)


def test_handoff_by_line_in_office_hours() -> None:
    state, record = consented()
    how = tap(state, "a=contact&m=line")
    assert labels(how.replies[-1]) == ["平日午前", "平日午後", "いつでも", "自由入力"]
    done = tap(how.state, data_of(how.replies[-1], "平日午後"))
    assert_well_formed(done)
    (handoff,) = done.effects
    assert handoff == CreateHandoff(
        urgency="normal",
        reporter="family",
        windows=("housing_benefit", "self_reliance"),
        summary=routed().summary,
        consented=True,
        consent=record.record,
        contact_method="line",
        contact_phone=None,
        contact_time="平日午後",
    )
    assert handoff.summary["windows"][0]["id"] == "housing_benefit"
    assert "順番に 確認" in all_text(done)
    assert done.state.phase == "idle"


def test_handoff_by_phone_with_a_typed_number_and_free_time_out_of_hours() -> None:
    state, _ = consented(now=SATURDAY)
    ask = tap(state, "a=contact&m=phone", now=SATURDAY)
    assert "電話番号" in all_text(ask)
    bad = say(ask.state, "12345", analysis("general_desk"), now=SATURDAY)
    assert_well_formed(bad)
    assert "確かめられませんでした" in all_text(bad) and bad.effects == ()
    good = say(bad.state, "０９０－１２３４－５６７８", now=SATURDAY)  # not triaged
    assert good.analysis is None
    assert good.state.contact_phone == "090-1234-5678"
    free = tap(good.state, "a=time&v=free", now=SATURDAY)
    done = say(free.state, "火曜日の夕方", analysis("general_desk"), now=SATURDAY)
    assert_well_formed(done)
    (handoff,) = done.effects
    assert isinstance(handoff, CreateHandoff)
    assert handoff.contact_method == "phone"
    assert handoff.contact_phone == "090-1234-5678"
    assert handoff.contact_time == "火曜日の夕方"
    text = all_text(done)
    assert "11月30日 月曜日 8時30分" in text  # when staff will see it
    assert "090-1234-5678" in text
    assert done.state.contact_phone is None  # not kept in the state after the handoff


def test_handoff_after_a_crisis_is_urgent_and_repeats_a_24_hour_line() -> None:
    crisis = say(
        State(),
        "死にたい",
        analysis("general_desk", urgency="crisis", signals=["suicidal"]),
        now=NIGHT,
    )
    assert isinstance(crisis.effects[0], MarkUrgent)
    asked = tap(crisis.state, data_of(crisis.replies[-1], "相談員に連絡してほしい"), now=NIGHT)
    yes = tap(asked.state, "a=consent&v=yes", now=NIGHT)
    how = tap(yes.state, "a=contact&m=line", now=NIGHT)
    done = tap(how.state, "a=time&v=any", now=NIGHT)
    (handoff,) = done.effects
    assert isinstance(handoff, CreateHandoff)
    assert handoff.urgency == "crisis"
    assert "0120-279-338" in all_text(done)
    assert "11月24日 火曜日 8時30分" in all_text(done)


def test_contact_or_time_without_consent_asks_for_consent_first() -> None:
    for data in ("a=contact&m=line", "a=time&v=am"):
        result = tap(routed(), data)
        assert result.effects == ()
        assert result.replies[0]["text"] == texts.consent_text()


def test_typed_yes_in_the_consent_phase_is_consent() -> None:
    asked = tap(routed(), "a=staff")
    yes = say(asked.state, "はい", analysis("general_desk"))
    assert isinstance(yes.effects[0], GiveConsent)


def test_existing_consent_skips_straight_to_contact() -> None:
    state, _ = consented()
    again = tap(state.evolve(phase="idle"), "a=staff")
    assert again.state.phase == "contact_method" and again.effects == ()


def test_withdraw_emits_withdraw_consent_and_forgets_it() -> None:
    state, _ = consented()
    result = say(state, "同意をやめる", analysis("general_desk"))
    assert_well_formed(result)
    assert result.effects == (WithdrawConsent(),)
    assert result.state.consent_version is None and result.state.consent_hash is None
    assert "同意を やめました" in all_text(result)
    # without consent on record: still emitted (idempotent), and said plainly
    none = say(State(), "同意をやめる。", analysis("general_desk"))
    assert none.effects == (WithdrawConsent(),)
    assert "同意は いただいていません" in all_text(none)


def test_changed_consent_text_asks_again() -> None:
    state, _ = consented()
    stale = state.evolve(phase="idle", consent_hash="0" * 64)
    result = tap(stale, "a=staff")
    assert result.replies[0]["text"] == texts.consent_text()


# --- phone numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("090-1234-5678", "090-1234-5678"),
        ("09012345678", "090-1234-5678"),
        ("０８０ー１２３４ー５６７８", "080-1234-5678"),
        ("070 1234 5678", "070-1234-5678"),
        ("050-1234-5678", "050-1234-5678"),
        ("+81 90 1234 5678", "090-1234-5678"),
        ("042-386-0295", "042-386-0295"),
        ("0423860295", "0423860295"),
        ("03-1234-5678", "03-1234-5678"),
        ("(042)386-0295", "042-386-0295"),
        ("０４２－３８６－０２９５", "042-386-0295"),
    ],
)
def test_japanese_phone_numbers_are_accepted(typed: str, normalised: str) -> None:
    assert normalise_phone(typed) == normalised


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345",
        "090-1234-567",  # mobile with 10 digits
        "090-1234-56789",
        "0901234567８9",
        "042-386-02955",
        "1-2-3",
        "電話して",
        "0" * 41,
        "110",
        "0020-1234-5678",
    ],
)
def test_other_input_is_not_a_phone_number(typed: str) -> None:
    assert normalise_phone(typed) is None


# --- texts.yaml ----------------------------------------------------------------------------------


def _broken(tmp_path: Path, old: str, new: str) -> str:
    source = texts.path_of().read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "texts.yaml"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return str(path)


def test_packaged_texts_are_valid_and_labels_fit() -> None:
    texts.validate()
    for name in texts.LABELS:
        assert 0 < len(texts.label(name)) <= 20


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("  kept: |-", "  confirm: |-", "duplicate key"),
        ("どうぞ、ここに 書いてください。", "ここに 書くべきです。", "べき"),
        ("教えてくれて、ありがとうございます。", "頑張ってください。", "頑張って"),
        ("（{hours}）", "（{opening}）", "placeholders"),
        (
            "  staff: 相談員に連絡してほしい",
            "  staff: 相談員からあなたに電話かLINEで連絡してほしいです",
            "longer",
        ),
        ("\nmedia:\n", "\nmediaX:\n", "media"),
    ],
)
def test_broken_texts_are_refused_at_load(tmp_path: Path, old: str, new: str, problem: str) -> None:
    with pytest.raises(TextsError, match=problem):
        texts.validate(_broken(tmp_path, old, new))


def test_no_window_fact_is_written_in_texts_yaml() -> None:
    source = texts.path_of().read_text(encoding="utf-8")
    assert "042-386-0295" not in source and "0120" not in source
    assert "8時30分から" not in source


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # Issue 10: numbers as people type them — spaces, full-width digits, words around.
        ("080 9876 5432 です。夕方なら出られます", "080-9876-5432"),
        ("090-1234-5678 夜に", "090-1234-5678"),
        ("電話番号は０９０ー１２３４ー５６７８です", "090-1234-5678"),
        ("番号は 042-386-0295 でお願いします", "042-386-0295"),
    ],
)
def test_a_number_with_words_around_it_is_read(typed: str, expected: str) -> None:
    assert normalise_phone(typed) == expected


def test_two_numbers_in_one_message_are_not_guessed() -> None:
    assert normalise_phone("090 1234 5678 か 080 1111 2222") is None
