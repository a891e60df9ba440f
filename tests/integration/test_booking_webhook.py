"""Booking end to end: signed webhooks into the running service (uvicorn on loopback), the
real worker and conversation, the fake LINE server over HTTP validating every request.
Book by tapping through the buttons, double-tap the confirm (H8), list and cancel, pick a
date in the date picker, and twenty residents racing for one seat (H7) — on SQLite, and on
PostgreSQL with MARUGOTO_TEST_POSTGRES."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.models.booking import Booking, Slot
from bot.scheduler import fill_horizon
from tests.integration.conftest import Service, SignedWebhook, new_user_id, wait_inbox_settled

pytestmark = pytest.mark.integration


def actions_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    quick = [item["action"] for item in message.get("quickReply", {}).get("items", [])]
    footer = message.get("contents", {}).get("footer", {}).get("contents", [])
    return quick + [button["action"] for button in footer]


def fields(action: dict[str, Any]) -> dict[str, str]:
    return dict(parse_qsl(action.get("data", "")))


def text_of(message: dict[str, Any]) -> str:
    if message.get("type") == "text":
        return str(message["text"])
    return str(message.get("altText", ""))


class Resident:
    """One resident's phone: send an event, wait for the answer, read the buttons."""

    def __init__(self, service: Service, webhook: SignedWebhook) -> None:
        self.service = service
        self.webhook = webhook
        self.user_id = new_user_id()

    def seen(self) -> list[dict[str, Any]]:
        return self.service.fake.messages_to(self.user_id)

    def _send(self, event: dict[str, Any], expect_answer: bool = True) -> list[dict[str, Any]]:
        before = len(self.seen())
        assert self.service.send(event).status_code == 200
        if expect_answer:
            assert self.service.fake.wait_for_messages(self.user_id, before + 1, timeout=15)
        assert wait_inbox_settled(self.service.database)
        return self.seen()[before:]

    def tap(
        self, data: str, params: dict[str, str] | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        postback: dict[str, Any] = {"data": data}
        if params:
            postback["params"] = params
        event = self.webhook.event("postback", user_id=self.user_id, postback=postback)
        return self._send(event, **kw)

    def say(self, text: str) -> list[dict[str, Any]]:
        return self._send(self.webhook.text(text, user_id=self.user_id))


def first_action(messages: list[dict[str, Any]], op: str) -> dict[str, Any]:
    for message in reversed(messages):
        for action in actions_of(message):
            if (
                action.get("type") in ("postback", "datetimepicker")
                and fields(action).get("o") == op
            ):
                return action
    raise AssertionError(f"no {op!r} button in {[text_of(m) for m in messages]}")


@pytest.fixture
def booking_service(start_service: Callable[..., Service], database: Database) -> Service:
    fill_horizon(database)
    return start_service()


def bookings(database: Database, *where: Any) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(Booking).where(*where)) or 0)


def test_book_double_tap_list_and_cancel_through_the_webhook(
    booking_service: Service, signed_webhook: SignedWebhook, database: Database
) -> None:
    resident = Resident(booking_service, signed_webhook)
    choose = resident.tap("a=book")  # the rich menu's 予約
    assert "どれを予約しますか" in text_of(choose[-1])
    days = resident.tap(first_action(choose, "svc")["data"])
    times = resident.tap(first_action(days, "day")["data"])
    modes = resident.tap(first_action(times, "pick")["data"])
    visit = next(a for a in actions_of(modes[-1]) if fields(a).get("m") == "visit")
    confirm = resident.tap(visit["data"])
    summary = confirm[-1]["contents"]["body"]["contents"][0]["text"]
    assert "小金井市社会福祉協議会内" in summary
    ok = first_action(confirm, "ok")["data"]
    done = resident.tap(ok)
    assert "予約番号" in text_of(done[-1])
    # The same confirm button again: no second booking, no second confirmation.
    resident.tap(ok, expect_answer=False)
    assert bookings(database) == 1
    assert (
        sum("予約番号：" in text_of(m) and "予約しました" in text_of(m) for m in resident.seen())
        == 1
    )
    with database.read() as session:
        reference = session.scalar(select(Booking.reference))
    assert reference is not None

    listed = resident.tap(first_action(done, "list")["data"])
    assert reference in text_of(listed[-1])
    ask = resident.tap(first_action(listed, "cancel_ask")["data"])
    cancelled = resident.tap(first_action(ask, "cancel")["data"])
    assert "キャンセルしました" in text_of(cancelled[-1])
    assert bookings(database, Booking.status == "active") == 0
    assert booking_service.fake.violations == []


def test_typed_wishes_start_the_dialogue(
    booking_service: Service, signed_webhook: SignedWebhook
) -> None:
    resident = Resident(booking_service, signed_webhook)
    assert "どれを予約しますか" in text_of(resident.say("予約したい")[-1])
    offered = resident.say("来週相談に行きたい")
    assert "来週" in text_of(offered[-1])
    assert first_action(offered, "day")
    assert "いま予約はありません" in text_of(resident.say("予約確認")[-1])


def test_date_picker_postback_params_reach_the_dialogue(
    booking_service: Service, signed_webhook: SignedWebhook, database: Database
) -> None:
    resident = Resident(booking_service, signed_webhook)
    days = resident.tap("a=book&o=svc&s=consultation")
    picker = first_action(days, "date")
    assert picker["type"] == "datetimepicker"
    with database.read() as session:
        last = session.scalar(
            select(func.max(Slot.starts_at)).where(Slot.service_id == "consultation")
        )
    assert last is not None
    from knowledge.calendar import to_jst

    day = to_jst(last).date().isoformat()
    answer = resident.tap(picker["data"], params={"date": day})
    month, date = int(day[5:7]), int(day[8:10])
    assert f"{month}月{date}日" in text_of(answer[-1])
    assert first_action(answer, "pick")


def test_twenty_residents_race_for_one_seat_through_the_webhook(
    booking_service: Service, signed_webhook: SignedWebhook, database: Database
) -> None:
    with database.read() as session:
        slot_id = session.scalar(
            select(Slot.id).where(Slot.service_id == "consultation").order_by(Slot.starts_at)
        )
    residents = [Resident(booking_service, signed_webhook) for _ in range(20)]
    barrier = threading.Barrier(len(residents))
    statuses: list[int] = []

    def confirm(resident: Resident, index: int) -> None:
        event = signed_webhook.postback(
            f"a=book&o=ok&sl={slot_id}&m=visit&k=race{index}", user_id=resident.user_id
        )
        barrier.wait()
        statuses.append(booking_service.send(event).status_code)

    threads = [threading.Thread(target=confirm, args=(r, i)) for i, r in enumerate(residents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 20
    for resident in residents:
        assert booking_service.fake.wait_for_messages(resident.user_id, 1, timeout=30)
    answers = [text_of(r.seen()[0]) for r in residents]
    assert sum("予約しました" in a for a in answers) == 1
    assert sum("埋まってしまいました" in a for a in answers) == 19
    assert bookings(database, Booking.slot_id == slot_id) == 1
    assert booking_service.fake.violations == []
