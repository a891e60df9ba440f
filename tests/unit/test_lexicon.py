"""The lexicon files: validated on load, every group with a source, no duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge._loading import KnowledgeDataError
from knowledge.lexicon import (
    LEXICON_DIR,
    build_lexicon,
    load_lexicon,
    parse_lexicon_file,
    read_lexicon,
    term_key,
)
from knowledge.windows import WINDOW_IDS


def group(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "rent",
        "source": "seeds 000:133-136",
        "weight": 0.8,
        "terms": ["家賃"],
    }
    base.update(overrides)
    return base


def parse(*groups: dict[str, object], window: str = "housing_benefit") -> None:
    build_lexicon(parse_lexicon_file("t.yaml", {"window": window, "groups": list(groups)}))


def test_the_packaged_lexicon_loads_and_covers_every_window() -> None:
    lexicon = load_lexicon()
    assert lexicon.windows() == frozenset(WINDOW_IDS)
    assert lexicon.term_count() > 1000
    assert all(g.source for g in lexicon.groups)


def test_every_window_has_enough_words() -> None:
    lexicon = load_lexicon()
    for window in WINDOW_IDS:
        assert sum(len(g.terms) for g in lexicon.for_window(window)) >= 10, window


def test_a_valid_file_parses() -> None:
    parse(group(), group(name="colloquial", source="colloquial", terms=["やちん"]))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (group(weight=0), "out of range"),
        (group(weight=1.5), "out of range"),
        (group(weight="high"), "must be a number"),
        (group(terms=[]), "non-empty list"),
        (group(terms=["家賃", " "]), "non-empty strings"),
        (group(source=""), "needs a source"),
        (group(source="seeds 999:1"), "000:12"),
        (group(source="made up"), "neither"),
        (group(reporter=["neighbour"]), "unknown reporter"),
        (group(colour="red"), "unknown field"),
        (group(name="Rent Trouble"), "snake_case"),
        (group(requires=["nothing_here"]), "requires unknown group"),
        (group(who="yes"), "who"),
        (group(before=["no_such_window"]), "not another known window"),
        (group(before=["housing_benefit"]), "not another known window"),
    ],
)
def test_invalid_groups_fail_loudly(bad: dict[str, object], message: str) -> None:
    with pytest.raises(KnowledgeDataError, match=message):
        parse(bad)


def test_unknown_window_id_fails() -> None:
    with pytest.raises(KnowledgeDataError, match="unknown window id"):
        parse(group(), window="rent_desk")


def test_duplicate_term_in_one_window_fails_even_across_spellings() -> None:
    with pytest.raises(KnowledgeDataError, match="duplicate term"):
        parse(group(terms=["ヤチン"]), group(name="kana", terms=["やちん"]))


def test_duplicate_group_fails() -> None:
    with pytest.raises(KnowledgeDataError, match="duplicate meaning group"):
        parse(group(), group(terms=["賃料"]))


def test_same_term_for_different_writers_is_allowed() -> None:
    parse(
        group(name="self_side", reporter=["self"], terms=["ひきこもり"]),
        group(name="family_side", reporter=["family"], terms=["ひきこもり"]),
        window="general_desk",
    )


def test_term_key_ignores_width_script_and_spaces() -> None:
    assert term_key("ﾔﾁﾝ") == term_key("やちん") == term_key("ヤ チン")


def test_a_broken_file_on_disk_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "window: housing_benefit\ngroups:\n  - name: x\n    source: colloquial\n"
        "    weight: 2\n    terms: [家賃]\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeDataError, match=r"a\.yaml"):
        read_lexicon(tmp_path)


def test_empty_directory_fails(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeDataError, match="no lexicon files"):
        read_lexicon(tmp_path)


def test_lexicon_files_live_next_to_the_loader() -> None:
    assert LEXICON_DIR.is_dir()
    assert sorted(p.suffix for p in LEXICON_DIR.iterdir() if p.is_file()) == [
        ".yaml" for p in LEXICON_DIR.iterdir() if p.is_file()
    ]
