"""The window catalogue: fixed ids, facts pinned to windows.md, every fact traceable to a seed
line, and loud failures for bad data."""

from __future__ import annotations

import copy
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge._loading import KnowledgeDataError, data_file
from knowledge.lexicon import LEXICON_DIR, check_covers, read_lexicon
from knowledge.windows import (
    FACT_FIELDS,
    SHORT_NAME_MAX,
    WINDOW_IDS,
    contact_window,
    get_window,
    load_windows,
    read_windows,
)

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
WINDOWS_MD = Path(__file__).resolve().parents[3] / "shared" / "domain" / "windows.md"

# The public contract, pinned here and only here (every other test reads the ids from
# knowledge/data/windows.yaml): adding, renaming or removing a window is a decision.
EXPECTED_IDS = (
    "general_desk",
    "self_reliance",
    "housing_benefit",
    "household_budget",
    "work_readiness",
    "housing_search",
    "welfare_loan",
    "hikikomori_ibasho",
    "hikikomori_family",
    "elderly_care",
    "disability",
    "child_family",
    "nursery",
    "child_development",
    "medical_care_child",
    "education",
    "child_ombuds",
    "women",
    "single_parent",
    "consumer",
    "rights_advocacy",
    "volunteer",
    "out_of_scope",
)

DESK = "042-386-0295"  # windows.md: general_desk ☎042-386-0295 (000:110-120)
CITY = "042-387-9915"  # windows.md: 地域福祉課地域福祉係 ☎042-387-9915 (000:82)

# Every window's phone exactly as windows.md states it; None where the seeds give none.
EXPECTED_PHONES: dict[str, str | None] = dict.fromkeys(EXPECTED_IDS, None) | {
    "general_desk": DESK,
    "self_reliance": DESK,
    "housing_benefit": DESK,
    "household_budget": DESK,
    "work_readiness": DESK,
    "housing_search": DESK,
}


def test_ids_are_the_public_contract_in_catalogue_order() -> None:
    assert EXPECTED_IDS == WINDOW_IDS
    assert tuple(load_windows()) == WINDOW_IDS


@pytest.mark.skipif(not WINDOWS_MD.exists(), reason="../shared is not part of a fresh clone")
def test_ids_match_windows_md() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", WINDOWS_MD.read_text(), re.MULTILINE))
    documented |= set(re.findall(r"^## Not ours: `([a-z_]+)`", WINDOWS_MD.read_text(), re.M))
    assert documented == set(EXPECTED_IDS)


def test_every_window_phone_is_pinned() -> None:
    phones = {w.id: (w.phone.value if w.phone else None) for w in load_windows().values()}
    assert phones == EXPECTED_PHONES


def test_general_desk_facts_are_the_seeds_facts() -> None:
    desk = get_window("general_desk")
    assert desk.name == "小金井市 福祉総合相談窓口（自立相談サポートセンター）"
    assert desk.kind == "front_door"
    assert desk.phone is not None and desk.phone.value == DESK
    assert desk.phone.source == "000:116"
    assert desk.hours is not None and "8時30分" in desk.hours.value and "5時" in desk.hours.value
    assert "土曜・日曜・祝日・年末年始を除く" in desk.hours.value
    assert desk.reservation is not None and desk.reservation.value == "予約制"
    assert desk.place is not None and desk.place.value == "小金井市社会福祉協議会内"
    assert desk.city_contact is not None and desk.city_contact.value == CITY
    assert desk.city_contact.source == "000:82"
    assert desk.ask_at is None
    assert desk.bookable


def test_places_have_schedule_fee_and_reservation() -> None:
    ibasho = get_window("hikikomori_ibasho")
    family = get_window("hikikomori_family")
    assert ibasho.schedule is not None and ibasho.schedule.value == "毎月第1火曜日 午後3時から"
    assert family.schedule is not None and family.schedule.value == "毎月第2火曜日 午前10時から"
    assert ibasho.reservation is not None and ibasho.reservation.value == "初回のみ要予約"
    assert family.reservation is not None and family.reservation.value == "要予約"
    for place in (ibasho, family):
        assert place.kind == "place"
        assert place.fee is not None and place.fee.value == "無料"
        assert place.phone is None and place.hours is None
        assert place.bookable


def test_bookable_windows_are_the_desk_its_services_and_the_two_places() -> None:
    bookable = {w.id for w in load_windows().values() if w.bookable}
    kinds = {w.id: w.kind for w in load_windows().values()}
    expected = {i for i, k in kinds.items() if k in {"front_door", "front_door_service", "place"}}
    assert bookable == expected
    assert "elderly_care" not in bookable and "out_of_scope" not in bookable


def test_other_windows_have_no_invented_facts() -> None:
    for window in load_windows().values():
        if window.kind in {"other", "out_of_scope"}:
            assert all(getattr(window, key) is None for key in FACT_FIELDS), window.id
            assert window.ask_at == "general_desk"


def test_shape_of_every_window() -> None:
    for window in load_windows().values():
        assert window.name and window.purpose and window.for_whom
        assert len(window.short_name) <= SHORT_NAME_MAX
        assert (window.ask_at is None) == (window.id == "general_desk")
        assert window.sources or window.id == "out_of_scope"
        for key in FACT_FIELDS:
            fact = getattr(window, key)
            assert fact is None or (fact.source and fact.verified)
        if window.place is not None:  # the seeds give no street address
            assert not re.search(r"〒|丁目|番地|\d+-\d+-\d+", window.place.value)


def test_out_of_scope_is_a_general_enquiry_without_facts() -> None:
    window = get_window("out_of_scope")
    assert window.kind == "out_of_scope"
    assert "一般的なお問い合わせ" in window.name
    assert window.phone is None and window.hours is None and window.place is None


def test_unknown_id_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        get_window("food_bank")


def _seed_lines(source: str) -> str:
    file_no, lines = source.split(":")
    (path,) = SEEDS.glob(f"{file_no}-*.txt")
    text = path.read_text(encoding="utf-8").splitlines()
    start, _, end = lines.partition("-")
    first, last = int(start), int(end or start)
    assert last <= len(text), f"{source} is past the end of {path.name}"
    return "".join(text[first - 1 : last])


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.mark.skipif(not SEEDS.exists(), reason="../shared is not part of a fresh clone")
def test_every_fact_is_written_at_its_source_line() -> None:
    """A fact's value (NFKC, spaces ignored) must appear at the seed lines it cites."""
    checked = 0
    for window in load_windows().values():
        for key in FACT_FIELDS:
            fact = getattr(window, key)
            if fact is None:
                continue
            at_source = _squash(_seed_lines(fact.source))
            assert _squash(fact.value) in at_source, (window.id, key, fact.source)
            checked += 1
        for source in window.sources:
            if not source.startswith("004"):  # 004 is not shipped with the seeds
                assert _seed_lines(source)
    assert checked >= 30


# --- validation: bad data fails loudly, naming the file and the entry -----------------


def _raw() -> dict[str, Any]:
    loaded = yaml.safe_load(data_file("windows.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return copy.deepcopy(loaded)


def _entry(raw: dict[str, Any], window_id: str) -> dict[str, Any]:
    (entry,) = [w for w in raw["windows"] if w["id"] == window_id]
    assert isinstance(entry, dict)
    return entry


def _load(tmp_path: Path, raw: dict[str, Any]) -> None:
    path = tmp_path / "windows.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    read_windows(path)


def test_the_unchanged_file_loads_from_a_tmp_copy(tmp_path: Path) -> None:
    _load(tmp_path, _raw())


def _expect_error(tmp_path: Path, raw: dict[str, Any], *needles: str) -> None:
    with pytest.raises(ValueError) as caught:
        _load(tmp_path, raw)
    assert isinstance(caught.value, KnowledgeDataError)
    message = str(caught.value)
    assert "windows.yaml" in message
    for needle in needles:
        assert needle in message


def _with_lexicon(tmp_path: Path, raw: dict[str, Any]) -> None:
    """The catalogue read together with the packaged lexicon, as load_lexicon() does."""
    path = tmp_path / "windows.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    ids = tuple(read_windows(path))
    check_covers(read_lexicon(LEXICON_DIR, ids), ids)


def test_a_renamed_id_fails_where_the_lexicon_names_the_old_one(tmp_path: Path) -> None:
    # The ids are derived from windows.yaml; a rename is caught by the pinned contract
    # (test_ids_are_the_public_contract_in_catalogue_order) and by the other files.
    raw = _raw()
    _entry(raw, "volunteer")["id"] = "food_bank"
    _load(tmp_path, raw)
    with pytest.raises(KnowledgeDataError, match="unknown window id 'volunteer'"):
        _with_lexicon(tmp_path, raw)


def test_duplicate_id_fails(tmp_path: Path) -> None:
    raw = _raw()
    raw["windows"].append(copy.deepcopy(_entry(raw, "women")))
    _expect_error(tmp_path, raw, "women", "duplicate id")


def test_missing_id_fails(tmp_path: Path) -> None:
    raw = _raw()
    raw["windows"] = [w for w in raw["windows"] if w["id"] != "consumer"]
    with pytest.raises(KnowledgeDataError, match="unknown window id 'consumer'"):
        _with_lexicon(tmp_path, raw)
    raw["windows"] = [w for w in raw["windows"] if w["id"] != "out_of_scope"]
    _expect_error(tmp_path, raw, "missing window id", "out_of_scope")


def test_a_window_without_its_lexicon_fails(tmp_path: Path) -> None:
    raw = _raw()
    extra = copy.deepcopy(_entry(raw, "volunteer"))
    extra["id"] = "food_bank"
    raw["windows"].insert(-1, extra)
    with pytest.raises(KnowledgeDataError, match=r"no lexicon for window id.* food_bank"):
        _with_lexicon(tmp_path, raw)


def test_bad_id_fails(tmp_path: Path) -> None:
    raw = _raw()
    _entry(raw, "volunteer")["id"] = "Food Bank"
    _expect_error(tmp_path, raw, "Food Bank", "lower_snake_case")


def test_hours_without_opening_hours_fails(tmp_path: Path) -> None:
    raw = _raw()
    del _entry(raw, "housing_search")["opening_hours"]
    _expect_error(tmp_path, raw, "housing_search", "opening_hours")


def test_fact_without_source_fails(tmp_path: Path) -> None:
    raw = _raw()
    del _entry(raw, "general_desk")["phone"]["source"]
    _expect_error(tmp_path, raw, "general_desk", "source")


@pytest.mark.parametrize(
    "bad", ["windows.md", "000", "000:", "005:12", "000:12-", "000:20-10", "0:12", "000:0", "12"]
)
def test_malformed_source_fails(tmp_path: Path, bad: str) -> None:
    raw = _raw()
    _entry(raw, "hikikomori_family")["fee"]["source"] = bad
    _expect_error(tmp_path, raw, "hikikomori_family")


def test_malformed_window_source_list_fails(tmp_path: Path) -> None:
    raw = _raw()
    _entry(raw, "education")["sources"] = ["001:339", "seeds"]
    _expect_error(tmp_path, raw, "education", "sources[1]")


def test_bad_phone_fails(tmp_path: Path) -> None:
    raw = _raw()
    _entry(raw, "general_desk")["phone"]["value"] = "0423860295x"
    _expect_error(tmp_path, raw, "general_desk", "phone")


@pytest.mark.parametrize("field", ["name", "short_name", "kind", "purpose", "for_whom"])
def test_missing_required_field_fails(tmp_path: Path, field: str) -> None:
    raw = _raw()
    del _entry(raw, "nursery")[field]
    _expect_error(tmp_path, raw, "nursery", field)


def test_missing_bookable_fails(tmp_path: Path) -> None:
    raw = _raw()
    del _entry(raw, "nursery")["bookable"]
    _expect_error(tmp_path, raw, "nursery", "bookable")


def test_unknown_field_fails(tmp_path: Path) -> None:
    raw = _raw()
    _entry(raw, "nursery")["address"] = {"value": "本町1-1", "source": "001:1"}
    _expect_error(tmp_path, raw, "nursery", "address")


def test_too_long_short_name_fails(tmp_path: Path) -> None:
    raw = _raw()
    _entry(raw, "nursery")["short_name"] = "あ" * (SHORT_NAME_MAX + 1)
    _expect_error(tmp_path, raw, "nursery", "short_name")


def test_unknown_ask_at_fails(tmp_path: Path) -> None:
    raw = _raw()
    _entry(raw, "nursery")["ask_at"] = "city_hall"
    _expect_error(tmp_path, raw, "ask_at", "city_hall")


def test_ask_at_chain_fails(tmp_path: Path) -> None:
    raw = _raw()
    _entry(raw, "nursery")["ask_at"] = "child_family"
    _expect_error(tmp_path, raw, "nursery", "without ask_at")


def test_invalid_yaml_fails(tmp_path: Path) -> None:
    path = tmp_path / "windows.yaml"
    path.write_text("windows: [\n  - id: general_desk\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"windows\.yaml.*invalid YAML"):
        read_windows(path)


def test_contact_window_never_leaves_the_resident_without_a_number() -> None:
    for window_id in WINDOW_IDS:
        contact = contact_window(window_id)
        assert contact.phone is not None
        expected = window_id if EXPECTED_PHONES[window_id] else "general_desk"
        assert contact.id == expected
