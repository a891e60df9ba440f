"""Issue 9 end to end: signed webhooks into the running service, the real triage, worker and
conversation, the fake LINE over HTTP checking every request — danger now puts 119 or 110
first, a child adds 189, a welfare check names 110 and 119, crisis mode carries over to the
next message, and the direct question leads to the crisis path or to the window. On SQLite,
and on PostgreSQL with MARUGOTO_TEST_POSTGRES."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.models.core import Handoff
from tests.integration.conftest import Service, SignedWebhook
from tests.integration.test_booking_webhook import Resident, actions_of, fields, text_of

pytestmark = pytest.mark.integration

LINES_24H = ("0120-279-338", "0120-061-338")


def first_line(messages: list[dict[str, Any]]) -> str:
    return text_of(messages[0]).splitlines()[0]


def said(messages: list[dict[str, Any]]) -> str:
    return "\n".join(text_of(m) for m in messages)


def offers_booking(messages: list[dict[str, Any]]) -> bool:
    taps = [fields(a).get("a") for m in messages for a in actions_of(m)]
    return "book" in taps or "予約" in json.dumps(messages, ensure_ascii=False)


def urgent_handoffs(database: Database) -> list[Handoff]:
    with database.read() as session:
        return list(session.scalars(select(Handoff).where(Handoff.urgency == "crisis")))


def test_an_overdose_gets_119_on_the_first_line_and_staff_are_alerted(
    service: Service, signed_webhook: SignedWebhook, database: Database
) -> None:
    resident = Resident(service, signed_webhook)
    answer = resident.say("さっき睡眠薬を30錠飲みました。ふらふらする")
    assert "119" in first_line(answer)
    assert any(n in said(answer) for n in LINES_24H)
    assert not offers_booking(answer)
    assert len(urgent_handoffs(database)) == 1  # whatever the consent: no consent was given


def test_violence_now_gets_110_first(service: Service, signed_webhook: SignedWebhook) -> None:
    answer = Resident(service, signed_webhook).say("夫が包丁を持って暴れてる。助けて")
    assert "110" in first_line(answer)


def test_a_child_in_danger_now_gets_110_and_189(
    service: Service, signed_webhook: SignedWebhook
) -> None:
    answer = Resident(service, signed_webhook).say("隣の家で今子どもが叩かれてて泣き叫んでる")
    assert "110" in first_line(answer)
    assert "189" in said(answer)
    assert not offers_booking(answer)


def test_a_welfare_check_names_110_and_119_then_the_desk(
    service: Service, signed_webhook: SignedWebhook, database: Database
) -> None:
    resident = Resident(service, signed_webhook)
    answer = resident.say("隣の一人暮らしのおばあさんを一週間見かけない。新聞がたまってる")
    assert "110" in first_line(answer) and "119" in first_line(answer)
    assert "福祉総合相談窓口" in said(answer)
    assert not offers_booking(answer)
    assert len(urgent_handoffs(database)) == 1


def test_crisis_mode_carries_over_to_the_next_message(
    service: Service, signed_webhook: SignedWebhook
) -> None:
    resident = Resident(service, signed_webhook)
    resident.say("もう死にたい")
    later = resident.say("家賃が払えないんです")
    assert "住居確保給付金" in said(later)
    assert not offers_booking(later)
    assert any(n in said(later) for n in LINES_24H)
    plan = resident.say("明日の朝、多摩川の橋から飛び降りるつもり")
    assert "119" in first_line(plan) or "110" in first_line(plan)


def test_the_direct_question_and_yes_lead_to_the_crisis_path(
    service: Service, signed_webhook: SignedWebhook, database: Database
) -> None:
    resident = Resident(service, signed_webhook)
    asked = resident.say("毎日つらくて眠れない。誰にも相談できない")
    labels = [a["label"] for a in actions_of(asked[-1])]
    assert labels == ["はい", "いいえ", "うまく言えない"]
    assert "死にたい" in text_of(asked[-1])
    assert urgent_handoffs(database) == []
    yes = resident.tap(next(a["data"] for a in actions_of(asked[-1]) if a["label"] == "はい"))
    assert any(n in said(yes) for n in LINES_24H)
    assert len(urgent_handoffs(database)) == 1


def test_the_direct_question_and_a_typed_no_lead_to_the_window(
    service: Service, signed_webhook: SignedWebhook, database: Database
) -> None:
    resident = Resident(service, signed_webhook)
    resident.say("毎日つらくて眠れない。誰にも相談できない")
    no = resident.say("ちがう")
    assert "福祉総合相談窓口" in said(no)
    assert any(n in said(no) for n in LINES_24H)
    assert urgent_handoffs(database) == []
