"""Issue 11 item 7 over real HTTP (SQLite and PostgreSQL): staff add, cancel and move a
居場所 / 家族の集い date (with its capacity), each with its audit row and the residents
told on LINE through the outbox; moving a booking offers the open slots in a select; a
closed case shows no reply form and refuses a reply."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from bot.actions import slots as slot_actions
from bot.db import Database
from bot.models.booking import Booking, Slot
from bot.models.core import Outbox
from knowledge.booking import earliest_start, load_booking_settings
from knowledge.calendar import JST
from tests.integration.admin_support import (
    StaffClient,
    audit_rows,
    csrf_of,
    get_handoff,
    logged_in,
    make_case,
    make_user,
    staff_client,
    web,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_client", "web"]


def open_days(count: int) -> list[date]:
    """Future JST days the booking settings keep open (not Tuesday, so no generated
    monthly session sits at the same time), past the minimum notice."""
    settings = load_booking_settings()
    day = earliest_start(datetime.now(UTC)).astimezone(JST).date() + timedelta(days=2)
    found: list[date] = []
    while len(found) < count:
        if not settings.is_closed(day) and day.weekday() != 1:
            found.append(day)
        day += timedelta(days=1)
    return found


class Desk:
    def __init__(self, client: StaffClient, token: str) -> None:
        self.client, self.token = client, token

    def post(self, path: str, **data: str) -> str:
        headers = {
            **self.client.origin,
            "referer": f"{self.client.base_url}/admin/slots?service=ibasho",
        }
        response = self.client.post(path, data={"csrf_token": self.token, **data}, headers=headers)
        assert response.status_code == 303, response.text
        location: str = response.headers["location"]
        return location.rsplit("msg=", 1)[-1]


def ibasho_slots(database: Database) -> list[Slot]:
    with database.read() as session:
        rows = list(
            session.scalars(select(Slot).where(Slot.service_id == "ibasho").order_by(Slot.id))
        )
        session.expunge_all()
    return rows


def test_add_move_cancel_a_session_date(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "hanako")
    desk = Desk(staff_client, logged_in(staff_client, "hanako"))
    first, second = open_days(2)

    page = staff_client.get("/admin/slots", params={"service": "ibasho"}).text
    assert 'action="/admin/slots/sessions"' in page  # the add form for a session service
    consult = staff_client.get("/admin/slots", params={"service": "consultation"}).text
    assert 'action="/admin/slots/sessions"' not in consult

    # Add: a date with its capacity, open at once, audited.
    added = desk.post("/admin/slots/sessions", service="ibasho", day=first.isoformat(),
                      start="15:00", end="17:00", capacity="4")  # fmt: skip
    assert added == "session_added"
    (slot,) = ibasho_slots(database)
    assert slot.capacity == 4 and not slot.blocked
    assert slot.starts_at == datetime.combine(first, time(15), JST)
    assert audit_rows(database, "slot.add")[-1].detail == {"service": "ibasho", "capacity": 4}
    shown = staff_client.get(
        "/admin/slots", params={"service": "ibasho", "from": first.isoformat()}
    )
    assert f'id="slot-{slot.id}"' in shown.text
    assert f'action="/admin/slots/{slot.id}/cancel-session"' in shown.text
    assert f'action="/admin/slots/{slot.id}/move-session"' in shown.text
    # The same time twice is refused; a consultation cannot be added this way.
    assert desk.post("/admin/slots/sessions", service="ibasho", day=first.isoformat(),
                     start="15:00", end="17:00", capacity="4") == "exists"  # fmt: skip
    assert desk.post("/admin/slots/sessions", service="consultation", day=first.isoformat(),
                     start="10:00", end="11:00", capacity="1") == "not_session"  # fmt: skip
    assert desk.post("/admin/slots/sessions", service="ibasho", day="2001-01-09",
                     start="15:00", end="17:00", capacity="4") == "past"  # fmt: skip

    # Two residents book it (from their cases).
    cases = [make_case(database, windows=["hikikomori_ibasho"]) for _ in range(2)]
    for n, case_id in enumerate(cases):
        booked = desk.post(f"/admin/slots/{slot.id}/book", case_id=str(case_id), mode="visit",
                           request_key=f"{n}" * 32)  # fmt: skip
        assert booked == "booked"

    # Move the date: both bookings follow, each resident is told, the old date is closed.
    assert desk.post(f"/admin/slots/{slot.id}/move-session", day=second.isoformat(),
                     start="14:00", end="16:00", capacity="1") == "too_small"  # fmt: skip
    moved = desk.post(f"/admin/slots/{slot.id}/move-session", day=second.isoformat(),
                      start="14:00", end="16:00")  # fmt: skip
    assert moved == "session_moved"
    old, new = ibasho_slots(database)
    assert old.blocked and old.booked_count == 0
    assert new.starts_at == datetime.combine(second, time(14), JST) and new.capacity == 4
    with database.read() as session:
        active = list(session.scalars(select(Booking).where(Booking.status == "active")))
        assert sorted(b.slot_id for b in active) == [new.id, new.id]
        told = session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.dedupe_key.like("booking-moved:%"))
        )
        assert told == 2
    detail = audit_rows(database, "slot.move")[-1].detail
    assert detail == {"service": "ibasho", "new_slot_id": new.id, "bookings": 2}
    assert len(audit_rows(database, "booking.move")) == 2
    # The monthly pattern does not bring the moved date back.
    with database.write() as session:
        slot_actions.ensure_slots(session, datetime.now(UTC))
    assert next(s for s in ibasho_slots(database) if s.id == old.id).blocked

    # Cancel the new date: bookings cancelled, residents told, date no longer offered.
    assert desk.post(f"/admin/slots/{new.id}/cancel-session") == "session_cancelled"
    with database.read() as session:
        assert session.scalar(select(Booking).where(Booking.status == "active")) is None
        cancelled = session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.dedupe_key.like("booking-cancelled:%"))
        )
        assert cancelled == 2
        assert session.get_one(Slot, new.id).blocked
    assert audit_rows(database, "slot.cancel")[-1].detail == {"service": "ibasho", "bookings": 2}
    # A cancelled date can be added again (reopened with the new capacity).
    again = desk.post("/admin/slots/sessions", service="ibasho", day=second.isoformat(),
                      start="14:00", end="16:00", capacity="6")  # fmt: skip
    assert again == "session_added"
    with database.read() as session:
        reopened = session.get_one(Slot, new.id)
        assert not reopened.blocked and reopened.capacity == 6


def test_a_failed_move_changes_nothing(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "hanako")
    desk = Desk(staff_client, logged_in(staff_client, "hanako"))
    soon, _, later = open_days(3)
    assert desk.post("/admin/slots/sessions", service="ibasho", day=later.isoformat(),
                     start="15:00", end="17:00", capacity="3") == "session_added"  # fmt: skip
    (slot,) = ibasho_slots(database)
    case_id = make_case(database, windows=["hikikomori_ibasho"])
    assert desk.post(f"/admin/slots/{slot.id}/book", case_id=str(case_id), mode="visit",
                     request_key="k" * 32) == "booked"  # fmt: skip
    # Seen from the morning of `soon`, a booking cannot follow to that afternoon (before
    # the minimum notice): the whole move is refused and rolled back.
    morning = datetime.combine(soon, time(8), JST)
    with pytest.raises(slot_actions.SessionError) as refused, database.write() as session:
        slot_actions.move_session(
            session,
            slot.id,
            starts_at=datetime.combine(soon, time(15), JST),
            ends_at=datetime.combine(soon, time(17), JST),
            staff_id=None,
            now=morning,
        )
    assert refused.value.code == "move_failed"
    (still,) = ibasho_slots(database)
    assert still.id == slot.id and not still.blocked and still.booked_count == 1
    assert audit_rows(database, "slot.move") == []
    with database.read() as session:
        assert session.scalar(select(Booking.slot_id).where(Booking.status == "active")) == slot.id


def test_moving_a_booking_offers_the_open_slots(
    staff_client: StaffClient, database: Database
) -> None:
    with database.write() as session:
        slot_actions.ensure_slots(session, datetime.now(UTC))
    make_user(database, "hanako")
    desk = Desk(staff_client, logged_in(staff_client, "hanako"))
    with database.read() as session:
        slots = list(
            session.scalars(
                select(Slot)
                .where(Slot.service_id == "consultation", Slot.blocked.is_(False))
                .order_by(Slot.starts_at)
                .limit(3)
            )
        )
        session.expunge_all()
    case_id = make_case(database)
    assert desk.post(f"/admin/slots/{slots[0].id}/book", case_id=str(case_id), mode="visit",
                     request_key="m" * 32) == "booked"  # fmt: skip
    start = slots[0].starts_at.astimezone(JST).date().isoformat()
    html = staff_client.get("/admin/slots", params={"service": "consultation", "from": start}).text
    form = re.search(r'<form method="post" action="/admin/bookings/\d+/move".*?</form>', html, re.S)
    assert form, "no move form"
    assert '<select name="new_slot_id"' in form.group(0)
    assert 'name="new_slot_id" inputmode' not in form.group(0)  # no typed slot number
    offered = [int(v) for v in re.findall(r'<option value="(\d+)"', form.group(0))]
    assert slots[1].id in offered and slots[2].id in offered
    assert slots[0].id not in offered  # not the slot it is already in
    booking_id = int(re.search(r"/admin/bookings/(\d+)/move", form.group(0)).group(1))  # type: ignore[union-attr]
    assert desk.post(f"/admin/bookings/{booking_id}/move", new_slot_id=str(slots[2].id),
                     request_key="n" * 32) == "moved"  # fmt: skip
    with database.read() as session:
        active = session.scalar(select(Booking).where(Booking.status == "active"))
        assert active is not None and active.slot_id == slots[2].id


def test_a_closed_case_shows_no_reply_form(staff_client: StaffClient, database: Database) -> None:
    make_user(database, "hanako")
    token = logged_in(staff_client, "hanako")
    open_case = make_case(database, status="in_progress")
    closed = make_case(database, status="closed")
    assert (
        f'action="/admin/cases/{open_case}/reply"'
        in staff_client.get(f"/admin/cases/{open_case}").text
    )
    page = staff_client.get(f"/admin/cases/{closed}").text
    assert f'action="/admin/cases/{closed}/reply"' not in page
    assert 'id="reply-text"' not in page and "この相談は終了しています" in page
    response = staff_client.post(
        f"/admin/cases/{closed}/reply",
        data={"csrf_token": csrf_of(page) or token, "text": "こんにちは", "request_key": "r" * 32},
        headers=staff_client.origin,
    )
    assert response.status_code == 303 and response.headers["location"].endswith("case_closed")
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0
    assert get_handoff(database, closed).status == "closed"
