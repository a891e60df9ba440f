"""The resident's menu as data (knowledge/data/menu.yaml): start points, the categories
they lead to and the windows each category shows, the clarifying question's choices and
「ほかの窓口」. The button labels are in the text store (bot.conversation.texts), which
checks at load that every category and start point here has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from knowledge._loading import Entry, KnowledgeDataError, data_file, entries, read_yaml
from knowledge.windows import load_windows

REPORTERS = frozenset({"self", "family", "third_party"})
MAX_WINDOWS = 3


@dataclass(frozen=True)
class Category:
    id: str
    #: Window ids shown, in order (empty for a flow).
    windows: tuple[str, ...]
    #: Who the resident writes about when they pick it; None = as the conversation knows.
    reporter: str | None
    #: Answered by a flow of the conversation's own instead of a list of windows.
    flow: bool


@dataclass(frozen=True)
class StartPoint:
    id: str
    #: The flow category it opens, or None for a second question with `choices`.
    flow: str | None
    choices: tuple[str, ...]
    reporter: str | None


@dataclass(frozen=True)
class Menu:
    categories: Mapping[str, Category]
    start_points: tuple[StartPoint, ...]
    clarify: tuple[str, ...]
    other: tuple[str, ...]

    def start_point(self, point_id: str) -> StartPoint | None:
        return next((p for p in self.start_points if p.id == point_id), None)


def _reporter(entry: Entry) -> str | None:
    reporter = entry.optional_text("reporter")
    if reporter is not None and reporter not in REPORTERS:
        raise entry.fail(f"reporter {reporter!r} is not one of {sorted(REPORTERS)}")
    return reporter


def _category(entry: Entry, window_ids: frozenset[str]) -> Category:
    entry.check_keys({"id", "windows", "reporter", "flow"})
    flow = entry.boolean("flow", default=False)
    windows = entry.text_list("windows", required=not flow)
    if flow and windows:
        raise entry.fail("a flow category lists no windows")
    unknown = [w for w in windows if w not in window_ids]
    if unknown:
        raise entry.fail(f"unknown window id(s) {', '.join(unknown)}")
    if len(windows) > MAX_WINDOWS:
        raise entry.fail(f"at most {MAX_WINDOWS} windows")
    return Category(entry.text("id"), windows, _reporter(entry), flow)


def _choices(
    file: str, name: str, value: object, categories: Mapping[str, Category]
) -> tuple[str, ...]:
    choices = Entry(file, name, {"choices": value}).text_list("choices")
    unknown = [c for c in choices if c not in categories]
    if unknown:
        raise KnowledgeDataError(file, name, f"unknown category id(s) {', '.join(unknown)}")
    return choices


def read_menu(path: Path) -> Menu:
    """Load and validate a menu file; raises KnowledgeDataError (a ValueError) if bad."""
    file = str(path)
    document = read_yaml(path)
    top = Entry(file, "<file>", document)
    top.check_keys({"categories", "start_points", "clarify", "other"})
    window_ids = frozenset(load_windows())
    categories = {
        c.id: c for c in (_category(e, window_ids) for e in entries(file, document, "categories"))
    }
    points: list[StartPoint] = []
    for entry in entries(file, document, "start_points"):
        entry.check_keys({"id", "flow", "choices", "reporter"})
        flow = entry.optional_text("flow")
        if flow is not None:
            if flow not in categories or not categories[flow].flow:
                raise entry.fail(f"flow {flow!r} is not a flow category")
            if entry.has("choices"):
                raise entry.fail("a flow start point has no choices")
            choices: tuple[str, ...] = ()
        else:
            choices = _choices(file, entry.name, entry.raw.get("choices"), categories)
        points.append(StartPoint(entry.text("id"), flow, choices, _reporter(entry)))
    return Menu(
        categories=MappingProxyType(categories),
        start_points=tuple(points),
        clarify=_choices(file, "clarify", top.raw.get("clarify"), categories),
        other=_choices(file, "other", top.raw.get("other"), categories),
    )


@cache
def load_menu() -> Menu:
    """The packaged menu, validated once per process."""
    return read_menu(data_file("menu.yaml"))
