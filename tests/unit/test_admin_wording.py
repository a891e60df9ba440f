"""admin.wording: audit actions, details and triage evidence in staff words, with a
readable fallback for codes it does not know (old rows outlive the code that wrote them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from admin import wording


@dataclass
class Row:
    action: str
    actor_type: str
    actor_id: str | None
    at: datetime
    detail: dict[str, Any]


def test_every_action_the_code_writes_has_a_japanese_name() -> None:
    for code, label in wording.ACTION_LABELS.items():
        assert label and not any(ch.isascii() and ch.isalpha() for ch in label.replace("LINE", ""))
        assert wording.action_label(code) == label
    assert wording.action_label("future.thing") == "future.thing"


def test_details_in_words() -> None:
    names = {1: "花子", 2: "太郎"}
    assert wording.describe("case.status", {"from": "new", "to": "closed"}) == "「新規」→「終了」"
    assert wording.describe("case.assign", {"from": None, "to": 2}, names) == "未担当 → 太郎"
    assert wording.describe("account.role", {"from": "staff", "to": "admin"}) == (
        "職員 → システム管理"
    )
    assert wording.describe("handoff.create", {"urgency": "crisis", "consented": False}) == (
        "緊急・同意なし"
    )
    assert wording.describe("login.fail", {"reason": "locked"}).startswith("続けて失敗")
    assert wording.describe("message.sent", {"outbox_id": 3, "message_id": 9}) == ""
    assert wording.describe("case.search", {"results": 4, "query_chars": 2}) == (
        "結果 4件、検索語の文字数 2"
    )
    # Unknown keys and actions still read as "key value", never as JSON.
    assert wording.describe("x.y", {"odd_key": True}) == "odd_key あり"
    assert "{" not in wording.describe("slot.move", {"new_slot_id": 5, "bookings": 2})


def test_evidence_in_words() -> None:
    plain = wording.evidence_line(
        {"window": "housing_benefit", "term": "家賃", "matched": "家賃が", "weight": 1.0,
         "via": "lemma"}
    )  # fmt: skip
    assert plain == {
        "where": "住居確保給付金",
        "matched": "家賃が",
        "term": "家賃",
        "how": "ことばの形が一致、強い手がかり",
    }
    crisis = wording.evidence_line(
        {"window": "crisis", "term": "死にたい(negated)", "matched": "死にたくない",
         "weight": 0.5, "via": "pattern"}
    )  # fmt: skip
    assert crisis["where"] == "危機" and crisis["term"] == "死にたい"
    assert crisis["how"] == "危険のサインの言い回し、打ち消し"
    broken = wording.evidence_line({"weight": "x"})
    assert broken["how"] == "弱い手がかり" and broken["matched"] == ""


def test_views_fold_into_one_line_per_person_and_day() -> None:
    day = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)  # 12:00 JST
    rows = [
        (Row("case.view", "staff", "1", day + timedelta(hours=5), {}), "花子"),
        (
            Row(
                "case.status",
                "staff",
                "1",
                day + timedelta(hours=4),
                {"from": "new", "to": "in_progress"},
            ),
            "花子",
        ),
        (Row("case.view", "staff", "2", day + timedelta(hours=3), {}), "太郎"),
        (Row("case.view", "staff", "1", day + timedelta(hours=2), {}), "花子"),
        (Row("case.view", "staff", "1", day + timedelta(hours=1), {}), "花子"),
        # 15:00 UTC the day before is 00:00 JST on 4/1: the same JST day.
        (Row("case.view", "staff", "1", day - timedelta(hours=12), {}), "花子"),
        # 14:59 UTC is still 3/31 in JST: another line.
        (Row("case.view", "staff", "1", day - timedelta(hours=12, minutes=1), {}), "花子"),
    ]
    lines = wording.history_lines(rows)
    assert [(x.label, x.who, x.count) for x in lines] == [
        ("閲覧", "花子", 4),
        ("状況の変更", "花子", 1),
        ("閲覧", "太郎", 1),
        ("閲覧", "花子", 1),
    ]
    assert lines[0].first_at == day - timedelta(hours=12)
    assert lines[1].detail == "「新規」→「対応中」"
