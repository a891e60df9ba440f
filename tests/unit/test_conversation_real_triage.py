"""The conversation with the real triage (triage.analyse): the end-to-end reading of a few
typical messages, and the never-raises property on arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.conversation import Context, State, events, step_strict
from tests.unit.test_conversation_flow import NIGHT, OFFICE, all_text, flex_windows, texts_of
from tests.unit.test_conversation_property import check_replies

pytest.importorskip("triage.engine")


def real(text: str, now=NIGHT, state: State | None = None):  # type: ignore[no-untyped-def]
    return step_strict(state or State(), events.Text(text), Context(now=now))


def test_rent_goes_to_the_housing_benefit() -> None:
    result = real("家賃が払えない", now=OFFICE)
    check_replies(result)
    assert "住居確保給付金" in flex_windows(result)
    assert result.analysis is not None and result.analysis.primary == "housing_benefit"


def test_shinitai_is_answered_with_crisis_lines_first() -> None:
    result = real("死にたい")
    check_replies(result)
    assert result.urgent
    assert "0120-279-338" in texts_of(result)[0]
    assert result.effects and type(result.effects[0]).__name__ == "MarkUrgent"


def test_rent_and_wanting_to_disappear_is_crisis_then_rent() -> None:
    result = real("家賃払えないしもう消えたい")
    assert result.urgent
    assert "0120-279-338" in texts_of(result)[0]
    assert "住居確保給付金" in flex_windows(result)


def test_family_member_is_answered_as_family() -> None:
    result = real("兄がずっと部屋から出てこない", now=OFFICE)
    check_replies(result)
    assert texts_of(result)[0].startswith("ご家族の ことで ご相談ですね")


def test_neighbour_is_answered_as_such() -> None:
    result = real("近所に住んでいるおばあさんが最近見かけなくて心配です", now=OFFICE)
    check_replies(result)
    assert "心配されているのですね" in texts_of(result)[0]


def test_out_of_scope_is_pointed_elsewhere() -> None:
    result = real("ごみの出し方を教えて", now=OFFICE)
    check_replies(result)
    assert "市役所" in all_text(result)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_with_the_real_triage_gets_valid_replies(text: str) -> None:
    check_replies(real(text))
