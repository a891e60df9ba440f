"""The slots screen: see, block/reopen, capacity, closure day, book for a case, cancel and
move (the resident is told on LINE through the outbox), over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.actions import slots as slot_actions
from bot.db import Database
from bot.models.booking import Booking, Slot
from bot.models.core import Outbox
from tests.integration.admin_support import (
    StaffClient,
    audit_count,
    logged_in,
    make_case,
    make_user,
    staff_client,
    web,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_client", "web"]


def _slots(database: Database) -> list[Slot]:
    with database.write() as session:
        slot_actions.ensure_slots(session, datetime.now(UTC))
    with database.read() as session:
        rows = list(
            session.scalars(
                select(Slot)
                .where(Slot.service_id == "consultation", Slot.blocked.is_(False))
                .order_by(Slot.starts_at)
            )
        )
        session.expunge_all()
    assert len(rows) >= 2, "the booking settings should produce consultation slots"
    return rows


def test_slots_book_cancel_move_block_capacity(
    staff_client: StaffClient, database: Database
) -> None:
    slots = _slots(database)
    make_user(database, "hanako")
    case_id = make_case(database)
    token = logged_in(staff_client, "hanako")
    start = slots[0].starts_at.astimezone().date().isoformat()
    page = staff_client.get("/admin/slots", params={"service": "consultation", "from": start})
    assert page.status_code == 200 and f'id="slot-{slots[0].id}"' in page.text
    o = {**staff_client.origin, "referer": f"{staff_client.base_url}/admin/slots?from={start}"}

    def post(path: str, **data: str) -> str:
        response = staff_client.post(path, data={"csrf_token": token, **data}, headers=o)
        assert response.status_code == 303, response.text
        return response.headers["location"]

    assert post(f"/admin/slots/{slots[0].id}/book", case_id=str(case_id), mode="visit",
                request_key="a" * 32).endswith("msg=booked")  # fmt: skip
    with database.read() as session:
        booking = session.scalar(select(Booking))
        assert booking is not None and booking.status == "active"
        booking_id = booking.id
        pushes = list(session.scalars(select(Outbox).where(Outbox.dedupe_key.like("staff-%"))))
        assert len(pushes) == 1
    html = staff_client.get("/admin/slots", params={"from": start}).text
    assert f'href="/admin/cases/{case_id}"' in html
    assert post(f"/admin/bookings/{booking_id}/move", new_slot_id=str(slots[1].id),
                request_key="b" * 32).endswith("msg=moved")  # fmt: skip
    with database.read() as session:
        moved = session.scalar(select(Booking).where(Booking.status == "active"))
        assert moved is not None and moved.slot_id == slots[1].id
        moved_id = moved.id
        # The staff member moved it: the old booking says so (it said "resident" before).
        assert session.get_one(Booking, booking_id).cancelled_by == "staff"
    assert post(f"/admin/bookings/{moved_id}/cancel").endswith("msg=cancelled")
    with database.read() as session:
        assert session.scalar(select(Booking).where(Booking.status == "active")) is None
        notices = list(session.scalars(select(Outbox).where(Outbox.origin == "staff")))
        assert len(notices) == 3  # booked, moved, cancelled
    assert post(f"/admin/slots/{slots[0].id}/block", blocked="1").endswith("msg=blocked")
    assert post(f"/admin/slots/{slots[0].id}/capacity", capacity="3").endswith("msg=capacity")
    with database.read() as session:
        slot = session.get(Slot, slots[0].id)
        assert slot is not None and slot.blocked and slot.capacity == 3
    assert post("/admin/slots/closures", day=start).endswith("msg=closed")
    assert audit_count(database, "booking.create") == 2
    assert audit_count(database, "booking.move") == 1


def test_slots_refuse_unconsented_case_and_need_csrf(
    staff_client: StaffClient, database: Database
) -> None:
    slots = _slots(database)
    make_user(database, "hanako")
    case_id = make_case(database, consented=False)
    token = logged_in(staff_client, "hanako")
    response = staff_client.post(
        f"/admin/slots/{slots[0].id}/book",
        data={"csrf_token": token, "case_id": str(case_id), "request_key": "c" * 32},
        headers=staff_client.origin,
    )
    assert re.search(r"msg=no_consent$", response.headers["location"])
    response = staff_client.post(
        f"/admin/slots/{slots[0].id}/block", data={"blocked": "1"}, headers=staff_client.origin
    )
    assert response.status_code == 403
    with database.read() as session:
        assert session.scalar(select(Booking)) is None
        slot = session.get(Slot, slots[0].id)
        assert slot is not None and not slot.blocked
