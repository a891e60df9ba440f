"""Issue 10 end to end, through the signed webhook, the real triage and worker, and the fake
LINE checking every request: a typed request for a 相談員 starts the handoff like the
button; English in, English out; stale and unknown taps are answered; the next 居場所 date
is named when it is more than 28 days away (the worker runs on a fixed clock). And issue 9:
while an urgent case is open, a later message is still answered in crisis mode. On SQLite,
and on PostgreSQL with MARUGOTO_TEST_POSTGRES."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.db import Database
from bot.models.core import Handoff
from bot.worker.inbox import InboxWorker
from knowledge.calendar import JST
from tests.integration.conftest import Service, SignedWebhook
from tests.integration.test_booking_webhook import Resident, actions_of, text_of

pytestmark = pytest.mark.integration


def said(messages: list[dict[str, Any]]) -> str:
    return "\n".join(text_of(m) for m in messages)


def labels(messages: list[dict[str, Any]]) -> list[str]:
    return [str(a.get("label", "")) for m in messages for a in actions_of(m)]


def fixed_clock_service(
    start_service: Callable[..., Service],
    database: Database,
    conversation: Any,
    now: datetime,
) -> Service:
    worker = InboxWorker(database, conversation=conversation, poll_seconds=0.05, clock=lambda: now)
    return start_service(worker=worker)


def test_a_typed_request_for_a_counsellor_asks_for_consent_like_the_button(
    service: Service, signed_webhook: SignedWebhook
) -> None:
    answer = Resident(service, signed_webhook).say("相談員さんと直接話したい")
    assert "同意する" in labels(answer), said(answer)


def test_english_in_english_out(service: Service, signed_webhook: SignedWebhook) -> None:
    answer = Resident(service, signed_webhook).say(
        "Hello, I lost my job and I can't pay my rent this month. What can I do?"
    )
    body = said(answer)
    assert "住居確保給付金" in body  # the window's own name, as the city writes it
    assert "speak Japanese" in body
    assert "Contact a counsellor" in labels(answer)


@pytest.mark.parametrize("data", ["a=book&o=move&b=999", "a=nothing", "garbage"])
def test_stale_and_unknown_taps_get_an_answer_with_a_next_step(
    service: Service, signed_webhook: SignedWebhook, data: str
) -> None:
    answer = Resident(service, signed_webhook).tap(data)
    assert answer and labels(answer), said(answer)  # something to tap next


def test_the_next_ibasho_session_is_named_more_than_28_days_ahead(
    start_service: Callable[..., Service],
    database: Database,
    conversation: Any,
    signed_webhook: SignedWebhook,
) -> None:
    # Wednesday 6 January 2027: the first Tuesday has just passed; the next is 2 February,
    # beyond the 28-day slot horizon, and no slots exist in the database at all.
    now = datetime(2027, 1, 6, 12, 0, tzinfo=JST)
    service = fixed_clock_service(start_service, database, conversation, now)
    answer = Resident(service, signed_webhook).say("居場所プロジェクトに行ってみたい")
    assert "2月2日（火）15:00" in said(answer), said(answer)


def test_an_open_urgent_case_keeps_crisis_mode_days_later(
    start_service: Callable[..., Service],
    database: Database,
    conversation: Any,
    signed_webhook: SignedWebhook,
) -> None:
    service = start_service()
    resident = Resident(service, signed_webhook)
    resident.say("もう死にたい。今夜終わりにする")
    with database.read() as session:
        cases = list(session.scalars(select(Handoff).where(Handoff.urgency == "crisis")))
    assert len(cases) == 1
    service.stop()

    # Three days on (past the 24 hours of crisis mode), the case is still open.
    later = fixed_clock_service(
        start_service, database, conversation, datetime.now(JST) + timedelta(days=3)
    )
    again = Resident(later, signed_webhook)
    again.user_id = resident.user_id
    answer = again.say("家賃の相談を予約したい")
    body = said(answer)
    assert "0120-279-338" in body or "0120-061-338" in body  # a 24-hour line is kept
    assert "予約する" not in labels(answer)

    # Staff close the case: the next message is an ordinary one again.
    with database.write() as session:
        session.execute(update(Handoff).values(status="closed"))
    answer = again.say("家賃の相談を予約したい")
    assert not any(n in said(answer) for n in ("0120-279-338", "0120-061-338")), said(answer)
