"""The resident's menu is data in knowledge/ (menu.yaml): start points, categories and the
windows they show; a mistake in it fails loudly at load, naming the file and the entry."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge._loading import KnowledgeDataError, data_file
from knowledge.menu import load_menu, read_menu
from knowledge.windows import load_windows


def _raw() -> dict[str, Any]:
    return yaml.safe_load(data_file("menu.yaml").read_text(encoding="utf-8"))


def test_the_packaged_menu_points_at_known_windows() -> None:
    menu = load_menu()
    windows = set(load_windows())
    for category in menu.categories.values():
        assert set(category.windows) <= windows
        assert category.flow == (not category.windows)
    assert [p.id for p in menu.start_points][:3] == ["money", "housing", "family"]
    assert menu.categories["rent"].windows == ("housing_benefit", "self_reliance")
    assert menu.categories["neighbour_child"].reporter == "third_party"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r["categories"][0]["windows"].append("city_hall"), "city_hall"),
        (lambda r: r["categories"].append({"id": "x", "windows": ["nursery"] * 4}), "at most 3"),
        (lambda r: r["categories"][0].update(reporter="mayor"), "mayor"),
        (lambda r: r["categories"].append({"id": "rent", "windows": ["general_desk"]}), "rent"),
        (lambda r: r["clarify"].append("lottery"), "lottery"),
        (lambda r: r["start_points"][0]["choices"].append("lottery"), "lottery"),
        (lambda r: r["start_points"][3].update(flow="rent"), "not a flow"),
        (lambda r: r["categories"][-1].update(windows=["general_desk"]), "flow"),
        (lambda r: r.update(extra=[]), "unknown field"),
    ],
)
def test_bad_menu_fails_loudly(tmp_path: Path, mutate: Any, needle: str) -> None:
    raw = copy.deepcopy(_raw())
    mutate(raw)
    path = tmp_path / "menu.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeDataError) as caught:
        read_menu(path)
    assert "menu.yaml" in str(caught.value)
    assert needle in str(caught.value)
