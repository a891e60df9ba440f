"""TESTING.md F1 (「削除」) and F2 (unfollow, re-follow), end to end: signed webhooks →
worker → outbox → sender → fake LINE, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from bot.db import Database
from bot.models.base import utcnow
from bot.models.core import AuditLog, InboxEvent, Message, Outbox, Resident
from tests.integration.conftest import (
    Service,
    SignedWebhook,
    count,
    new_user_id,
    outbox_rows,
    wait_inbox_settled,
    wait_until,
    wait_worker_round,
)

pytestmark = pytest.mark.integration

SENTINEL = "ZQX-SENTINEL-41"


def resident(database: Database, user_id: str) -> Resident:
    with database.read() as session:
        row = session.scalars(select(Resident).where(Resident.line_user_id == user_id)).one()
        session.expunge(row)
        return row


def whole_database_text(database: Database) -> str:
    """Every row of every table, as text: to search for what must be gone."""
    dumps: list[str] = []
    with database.read() as session:
        for table in inspect(session.get_bind()).get_table_names():
            rows = session.execute(text(f'SELECT * FROM "{table}"')).all()
            dumps.extend(json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows)
    return "\n".join(dumps)


def say(service: Service, signed_webhook: SignedWebhook, user: str, words: str) -> dict[str, Any]:
    event = signed_webhook.text(words, user_id=user)
    assert service.send(event).status_code == 200
    assert wait_inbox_settled(service.database)
    return event


def queue_staff_push(database: Database, user: str, *, later: bool = True) -> int:
    """A pending outbox row (e.g. a staff answer due later) that must be cancelled."""
    row_resident = resident(database, user)
    with database.write() as session:
        row = Outbox(
            dedupe_key=f"staff:{uuid.uuid4()}",
            resident_id=row_resident.id,
            line_user_id=user,
            messages=[{"type": "text", "text": "相談員です"}],
            retry_key=str(uuid.uuid4()),
            origin="staff",
            status="pending",
            priority=5,
            attempts=0,
            next_attempt_at=utcnow() + timedelta(hours=1 if later else 0),
        )
        session.add(row)
        session.flush()
        return row.id


def test_f1_erase_removes_words_and_triage_and_a_redelivery_does_not_bring_them_back(
    service: Service, signed_webhook: SignedWebhook
) -> None:
    db, fake = service.database, service.fake
    user = new_user_id()
    assert service.send(signed_webhook.follow(user_id=user)).status_code == 200
    worry = say(service, signed_webhook, user, f"家賃が払えなくて困っています {SENTINEL}")
    assert fake.wait_for_messages(user, 2, timeout=15)
    with db.read() as session:
        [logged] = session.scalars(
            select(Message).where(Message.direction == "in", Message.text.is_not(None))
        ).all()
        assert SENTINEL in (logged.text or "")
        assert logged.triage is not None
    pending_id = queue_staff_push(db, user)

    say(service, signed_webhook, user, "削除")
    say(service, signed_webhook, user, "はい")
    assert wait_until(lambda: outbox_rows(db)[-1].status == "sent", 10)

    assert SENTINEL not in whole_database_text(db)
    with db.read() as session:
        inbound = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert inbound and all(m.text is None and m.triage is None for m in inbound)
        payloads = session.scalars(select(InboxEvent.payload)).all()
        assert all(p.get("message", {}).get("text", "") == "" for p in payloads)
        status = session.scalar(select(Outbox.status).where(Outbox.id == pending_id))
        assert status == "cancelled"
        [audit] = session.scalars(select(AuditLog).where(AuditLog.action == "resident.erase")).all()
        assert SENTINEL not in json.dumps(audit.detail)
        assert audit.detail["messages_erased"] >= 3
    erased = resident(db, user)
    assert erased.erased_at is not None
    assert erased.consent_given_at is None

    # LINE redelivers the old event: acknowledged, and its text does not come back.
    messages_before = count(db, Message)
    redelivered = dict(worry, deliveryContext={"isRedelivery": True})
    assert service.send(redelivered).status_code == 200
    # Stored before the 200 if at all, so a settled inbox has processed it if it was.
    assert wait_inbox_settled(db)
    assert count(db, Message) == messages_before
    assert SENTINEL not in whole_database_text(db)
    assert fake.violations == []


def test_an_unsent_message_is_erased_and_only_that_one(
    service: Service, signed_webhook: SignedWebhook
) -> None:
    db, fake = service.database, service.fake
    user = new_user_id()
    taken_back = say(service, signed_webhook, user, f"借金の返済が苦しい {SENTINEL}")
    say(service, signed_webhook, user, "仕事がない KEEP-THIS-ONE")
    assert fake.wait_for_messages(user, 2, timeout=15)
    assert wait_until(lambda: all(row.status == "sent" for row in outbox_rows(db)), 10)
    assert SENTINEL in whole_database_text(db)
    requests_before = len(fake.requests)
    answers_before = count(db, Outbox)

    unsend = signed_webhook.event("unsend", user_id=user, reply_token=None) | {
        "unsend": {"messageId": taken_back["message"]["id"]}
    }
    assert service.send(unsend).status_code == 200
    assert wait_inbox_settled(db)

    assert SENTINEL not in whole_database_text(db)
    assert "KEEP-THIS-ONE" in whole_database_text(db)
    with db.read() as session:
        [audit] = session.scalars(select(AuditLog).where(AuditLog.action == "message.unsend"))
        # The words, and the bot's lines answering them (a card and its texts).
        assert set(audit.detail) == {"messages_erased"} and audit.detail["messages_erased"] >= 2
        statuses = session.scalars(select(InboxEvent.status)).all()
        assert set(statuses) == {"done"}
    # An answer would be an outbox row written with the event's "done": there is none.
    assert count(db, Outbox) == answers_before
    assert len(fake.requests) == requests_before  # an unsend is not answered

    # Unsending something we never stored (or twice) changes nothing and fails nothing.
    again = dict(unsend, webhookEventId=("02" + uuid.uuid4().hex.upper())[:26])
    assert service.send(again).status_code == 200
    assert wait_inbox_settled(db)
    assert "KEEP-THIS-ONE" in whole_database_text(db)
    with db.read() as session:
        assert set(session.scalars(select(InboxEvent.status)).all()) == {"done"}
    assert fake.violations == []


def test_f1_answering_no_keeps_everything(service: Service, signed_webhook: SignedWebhook) -> None:
    user = new_user_id()
    say(service, signed_webhook, user, f"仕事がない {SENTINEL}")
    say(service, signed_webhook, user, "削除")
    say(service, signed_webhook, user, "いいえ")
    assert SENTINEL in whole_database_text(service.database)
    assert resident(service.database, user).erased_at is None


def test_f2_unfollow_cancels_pending_and_nothing_is_pushed_after_it(
    start_service: Callable[..., Service],
    signed_webhook: SignedWebhook,
    database: Database,
    conversation: Any,
) -> None:
    # Web + inbox worker only: the answers wait in the outbox, as when LINE is slow.
    service = start_service(role="web")
    user = new_user_id()
    base = int(time.time() * 1000)
    worry = signed_webhook.text("家賃が払えない", user_id=user, timestamp_ms=base)
    block = signed_webhook.unfollow(user_id=user, timestamp_ms=base + 10)
    assert service.send(worry).status_code == 200
    from bot.worker.inbox import InboxWorker

    worker = InboxWorker(database, conversation=conversation)
    assert worker.run_once() == 1
    assert [r.status for r in outbox_rows(database)] == ["pending"]
    assert service.send(block).status_code == 200
    assert worker.run_once() == 1
    assert [r.status for r in outbox_rows(database)] == ["cancelled"]
    blocked = resident(database, user)
    assert blocked.following is False and blocked.unfollowed_at is not None

    # Now the sender runs: nothing may reach the blocked user.
    sender = start_service(role="worker")
    sentinel = wait_worker_round(service, signed_webhook)  # the sender has been past them
    assert {r.user_id for r in sender.fake.requests} == {sentinel}
    assert count(database, Outbox, Outbox.status == "cancelled") == 1


def test_f2_refollow_starts_the_consent_flow_again(
    service: Service, signed_webhook: SignedWebhook
) -> None:
    db = service.database
    user = new_user_id()
    assert service.send(signed_webhook.follow(user_id=user)).status_code == 200
    assert service.fake.wait_for_messages(user, 1, timeout=15)
    greeting = service.fake.messages_to(user)
    with db.write() as session:  # consent on record, a flow in progress
        row = session.scalars(select(Resident).where(Resident.line_user_id == user)).one()
        row.consent_version = "1"
        row.consent_given_at = utcnow()
        row.consent_text_hash = "0" * 64
        row.state = dict(row.state, phase="contact_time")
    assert service.send(signed_webhook.unfollow(user_id=user)).status_code == 200
    assert wait_inbox_settled(db)
    assert service.send(signed_webhook.follow(user_id=user)).status_code == 200
    assert wait_inbox_settled(db)
    assert service.fake.wait_for_messages(user, 2 * len(greeting), timeout=15)
    again = resident(db, user)
    assert again.following is True
    assert again.consent_given_at is None and again.consent_version is None
    assert again.state.get("phase", "idle") == "idle"
    # The same greeting (with its privacy notice) as the first time.
    assert service.fake.messages_to(user)[len(greeting) :] == greeting
