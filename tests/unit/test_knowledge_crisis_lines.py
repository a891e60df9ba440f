"""Crisis lines: every number pinned to windows.md, hours honoured, the right lines first."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge._loading import KnowledgeDataError, data_file
from knowledge.calendar import JST
from knowledge.crisis_lines import TOPICS, lines_for, load_crisis_lines, read_crisis_lines

WINDOWS_MD = Path(__file__).resolve().parents[3] / "shared" / "domain" / "windows.md"

# Exactly the table of windows.md ("Crisis: not a window, an urgency"), checked Nov 2026.
PINNED = {
    "救急・消防": "119",
    "警察（いま危ないとき）": "110",
    "よりそいホットライン": "0120-279-338",
    "#いのちSOS": "0120-061-338",
    "いのちの電話（ナビダイヤル）": "0570-783-556",
    "自殺予防いのちの電話（フリーダイヤル）": "0120-783-556",
    "こころの健康相談統一ダイヤル": "0570-064-556",
    "24時間子供SOSダイヤル": "0120-0-78310",
    "チャイルドライン（18歳まで）": "0120-99-7777",
    "児童相談所 虐待対応ダイヤル": "189",
    "DV相談＋": "0120-279-889",
    "DV相談ナビ": "#8008",
    "警察相談専用電話": "#9110",
    "消費者ホットライン": "188",
}


def line(line_id: str) -> Any:
    (found,) = [x for x in load_crisis_lines() if x.id == line_id]
    return found


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


def test_every_crisis_number_is_pinned() -> None:
    assert {x.name: x.number for x in load_crisis_lines()} == PINNED


@pytest.mark.skipif(not WINDOWS_MD.exists(), reason="../shared is not part of a fresh clone")
def test_numbers_match_the_windows_md_table() -> None:
    text = WINDOWS_MD.read_text(encoding="utf-8").split("## Crisis", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    for row in re.findall(r"^\| [^|]+ \| ([^|]+) \| [^|]+ \|$", text, re.MULTILINE):
        documented |= {n.strip() for n in row.split("/") if n.strip() != "number"}
    documented.discard("---")
    assert documented == set(PINNED.values())


def test_every_line_has_source_topics_and_hours_text() -> None:
    for x in load_crisis_lines():
        assert x.source == "windows.md (checked Nov 2026)"
        assert x.topics and set(x.topics) <= TOPICS
        assert x.hours_text


@pytest.mark.parametrize(
    ("line_id", "when", "expected"),
    [
        ("yorisoi", jst(2026, 11, 24, 3, 0), True),
        ("emergency_119", jst(2026, 1, 1, 0, 0), True),
        # #いのちSOS: 24h on Mon/Thu/Fri; 6:00–24:00 other days
        ("inochi_sos", jst(2026, 11, 23, 3, 0), True),  # Monday
        ("inochi_sos", jst(2026, 11, 24, 5, 59), False),  # Tuesday
        ("inochi_sos", jst(2026, 11, 24, 6, 0), True),
        ("inochi_sos", jst(2026, 11, 24, 23, 59), True),
        ("inochi_sos", jst(2026, 11, 27, 2, 0), True),  # Friday
        ("inochi_sos", jst(2026, 11, 28, 2, 0), False),  # Saturday
        # いのちの電話 (ナビダイヤル) 10:00–22:00
        ("inochi_navi", jst(2026, 11, 24, 9, 59), False),
        ("inochi_navi", jst(2026, 11, 24, 10, 0), True),
        ("inochi_navi", jst(2026, 11, 24, 21, 59), True),
        ("inochi_navi", jst(2026, 11, 24, 22, 0), False),
        # フリーダイヤル 16:00–21:00; on the 10th 8:00 to 8:00 next day
        ("inochi_free", jst(2026, 11, 24, 15, 59), False),
        ("inochi_free", jst(2026, 11, 24, 16, 0), True),
        ("inochi_free", jst(2026, 11, 24, 21, 0), False),
        ("inochi_free", jst(2026, 11, 10, 7, 59), False),
        ("inochi_free", jst(2026, 11, 10, 8, 0), True),
        ("inochi_free", jst(2026, 11, 11, 3, 0), True),
        ("inochi_free", jst(2026, 11, 11, 7, 59), True),
        ("inochi_free", jst(2026, 11, 11, 8, 0), False),
        ("inochi_free", jst(2026, 12, 11, 7, 0), True),  # 10th of a month, into the 11th
        ("childline", jst(2026, 11, 24, 16, 30), True),
        ("childline", jst(2026, 11, 24, 21, 30), False),
        ("kokoro_dial", jst(2026, 11, 24, 12, 0), None),
        ("dv_navi", jst(2026, 11, 24, 12, 0), None),
        ("police_9110", jst(2026, 11, 24, 12, 0), None),
        ("consumer_188", jst(2026, 11, 24, 12, 0), None),
    ],
)
def test_is_open(line_id: str, when: datetime, expected: bool | None) -> None:
    assert line(line_id).is_open(when) is expected
    assert line(line_id).is_open(when.astimezone(UTC)) is expected


def test_is_open_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        line("yorisoi").is_open(datetime(2026, 11, 24, 3, 0))


def test_suicide_at_night_gives_open_24_hour_lines_first() -> None:
    result = lines_for(["suicide"], jst(2026, 11, 24, 3, 0))  # Tuesday 3 a.m.
    assert result[0].id == "yorisoi"
    assert all(x.is_open(jst(2026, 11, 24, 3, 0)) is not False for x in result)


def test_suicide_in_office_hours_gives_three_open_lines() -> None:
    when = jst(2026, 11, 24, 11, 0)
    result = lines_for(["suicide"], when)
    assert len(result) == 3
    assert all(x.is_open(when) is True for x in result)
    assert all("suicide" in x.topics for x in result)


def test_topics_filter_and_limit() -> None:
    when = jst(2026, 11, 24, 11, 0)
    assert {x.id for x in lines_for(["dv"], when, limit=5)} == {"yorisoi", "dv_plus", "dv_navi"}
    assert [x.id for x in lines_for(["abuse"], when, limit=1)] == ["child_sos_24h"]
    assert [x.id for x in lines_for(["consumer"], when)] == ["consumer_188"]
    assert lines_for([], when)[0].id == "yorisoi"  # no topic: the general line


def test_closed_lines_only_when_nothing_else() -> None:
    # チャイルドライン is the only "child"-only line besides 24h ones; at 3 a.m. it is closed.
    night = jst(2026, 11, 24, 3, 0)
    ids = [x.id for x in lines_for(["child"], night, limit=5)]
    assert "childline" not in ids
    assert ids[:2] == ["child_sos_24h", "jidou_189"]


def test_unknown_topic_and_bad_limit_fail() -> None:
    with pytest.raises(ValueError, match="unknown crisis topic"):
        lines_for(["sucide"], jst(2026, 11, 24, 3, 0))
    with pytest.raises(ValueError):
        lines_for(["suicide"], jst(2026, 11, 24, 3, 0), limit=0)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2031, 12, 31)),
    st.sets(st.sampled_from(sorted(TOPICS))),
)
def test_suicide_is_never_empty_and_24h_comes_first_at_night(
    naive: datetime, extra: set[str]
) -> None:
    when = naive.replace(tzinfo=UTC)
    result = lines_for({"suicide", *extra}, when)
    assert 1 <= len(result) <= 3
    assert result[0].is_open(when) is True
    local = when.astimezone(JST)
    if local.hour < 6 or local.hour >= 22:
        assert result[0].always_open


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2031, 12, 31)))
def test_open_lines_come_before_unknown_ones(naive: datetime) -> None:
    when = naive.replace(tzinfo=UTC)
    states = [x.is_open(when) for x in lines_for(sorted(TOPICS), when, limit=20)]
    ranks = [0 if s is True else 1 if s is None else 2 for s in states]
    assert ranks == sorted(ranks)
    assert 2 not in ranks


def test_night_rank_puts_24h_before_other_open_lines() -> None:
    # Monday 1 a.m.: #いのちSOS is open (24h on Mondays) but よりそい (always) comes first.
    when = jst(2026, 11, 30, 1, 0)
    ids = [x.id for x in lines_for(["suicide"], when)]
    assert ids[0] == "yorisoi" and "inochi_sos" in ids


# --- validation -------------------------------------------------------------------------


def _raw() -> dict[str, Any]:
    loaded = yaml.safe_load(data_file("crisis_lines.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return copy.deepcopy(loaded)


def _expect_error(tmp_path: Path, raw: dict[str, Any], *needles: str) -> None:
    path = tmp_path / "crisis_lines.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeDataError) as caught:
        read_crisis_lines(path)
    assert "crisis_lines.yaml" in str(caught.value)
    for needle in needles:
        assert needle in str(caught.value)


def test_unchanged_copy_loads(tmp_path: Path) -> None:
    path = tmp_path / "crisis_lines.yaml"
    path.write_text(yaml.safe_dump(_raw(), allow_unicode=True), encoding="utf-8")
    assert read_crisis_lines(path) == load_crisis_lines()


@pytest.mark.parametrize("bad", ["0120-ABC-338", "0120279338", "call 119", "99", "#80", 119])
def test_number_not_like_a_phone_number_fails(tmp_path: Path, bad: object) -> None:
    raw = _raw()
    raw["lines"][2]["number"] = bad
    _expect_error(tmp_path, raw, "yorisoi", "number")


def test_duplicate_id_fails(tmp_path: Path) -> None:
    raw = _raw()
    raw["lines"].append(copy.deepcopy(raw["lines"][2]))
    _expect_error(tmp_path, raw, "duplicate id", "yorisoi")


def test_unknown_topic_fails(tmp_path: Path) -> None:
    raw = _raw()
    raw["lines"][2]["topics"] = ["suicide", "food"]
    _expect_error(tmp_path, raw, "yorisoi", "food")


@pytest.mark.parametrize("field", ["name", "hours_text", "source", "topics"])
def test_missing_field_fails(tmp_path: Path, field: str) -> None:
    raw = _raw()
    del raw["lines"][3][field]
    _expect_error(tmp_path, raw, "inochi_sos", field)


def test_bad_hours_fail(tmp_path: Path) -> None:
    raw = _raw()
    raw["lines"][3]["hours"] = {"weekly": [{"days": ["mon"], "start": "22:00", "end": "06:00"}]}
    _expect_error(tmp_path, raw, "inochi_sos", "before")
    raw["lines"][3]["hours"] = {}
    _expect_error(tmp_path, raw, "inochi_sos", "hours")
    raw["lines"][3]["hours"] = {"weekly": [{"days": ["moon"], "start": "06:00", "end": "24:00"}]}
    _expect_error(tmp_path, raw, "inochi_sos", "days")
