"""The window catalogue: which consultation window helps with what, and the facts about it.

Residents act on what we tell them (they phone, they walk in), so every fact carries the
seed line it comes from and a missing fact stays ``None`` rather than a plausible guess.
The ids are a public contract (triage output, evaluation sets, staff reports): they are
the ids of windows.yaml, in its order (`WINDOW_IDS`), and the tests pin them in one place
(tests/unit/test_knowledge_windows.py). Adding a window is its entry in windows.yaml plus
its lexicon file (knowledge/lexicon/); every other list of windows is derived from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from knowledge._loading import Entry, KnowledgeDataError, data_file, entries, read_yaml

#: The ids the code itself names: everyone's fallback and the mark of "not welfare".
REQUIRED_IDS = ("general_desk", "out_of_scope")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")

KINDS = frozenset({"front_door", "front_door_service", "place", "other", "out_of_scope"})
SHORT_NAME_MAX = 20
FACT_FIELDS = ("phone", "hours", "reservation", "place", "schedule", "fee", "city_contact")
_PHONE_RE = re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$")
_FIELDS = frozenset(
    {"id", "name", "short_name", "kind", "purpose", "for_whom", "ask_at", "bookable"}
    | {"sources", "city_contact_label", "opening_hours", *FACT_FIELDS}
)


@dataclass(frozen=True)
class Fact:
    """A fact from the seeds, always with its source (``"000:116"`` or ``"000:110-120"``)."""

    value: str
    source: str
    verified: bool = True


@dataclass(frozen=True)
class Window:
    """One window as the resident should learn about it; ``None`` facts are not in the seeds."""

    id: str
    name: str
    short_name: str
    kind: str
    purpose: str
    for_whom: str
    phone: Fact | None
    hours: Fact | None
    reservation: Fact | None
    place: Fact | None
    schedule: Fact | None
    fee: Fact | None
    ask_at: str | None
    bookable: bool
    sources: tuple[str, ...]
    city_contact: Fact | None = None
    city_contact_label: str | None = None
    #: The id of its machine-readable opening hours in calendar.yaml (with its `hours`).
    opening_hours: str | None = None


def _fact(entry: Entry, key: str) -> Fact | None:
    if not entry.has(key):
        return None
    sub = entry.sub(key)
    sub.check_keys({"value", "source", "verified"})
    return Fact(
        value=sub.text("value"),
        source=sub.source(),
        verified=sub.boolean("verified", default=True),
    )


def _window(entry: Entry) -> Window:
    entry.check_keys(set(_FIELDS))
    window_id = entry.text("id")
    if not _ID_RE.match(window_id):
        raise entry.fail(f"window id {window_id!r} must be lower_snake_case")
    kind = entry.text("kind")
    if kind not in KINDS:
        raise entry.fail(f"kind {kind!r} is not one of {sorted(KINDS)}")
    if (kind == "out_of_scope") != (window_id == "out_of_scope"):
        raise entry.fail("kind 'out_of_scope' is reserved for the id 'out_of_scope'")
    short_name = entry.text("short_name")
    if len(short_name) > SHORT_NAME_MAX:
        raise entry.fail(f"short_name is longer than {SHORT_NAME_MAX} characters")
    sources = entry.text_list("sources", required=kind != "out_of_scope")
    for index, source in enumerate(sources):
        Entry(entry.file, f"{entry.name}.sources[{index}]", {"source": source}).source()
    if "bookable" not in entry.raw:
        raise entry.fail("field 'bookable' is required")
    facts = {key: _fact(entry, key) for key in FACT_FIELDS}
    for key in ("phone", "city_contact"):
        fact = facts[key]
        if fact is not None and not _PHONE_RE.match(fact.value):
            raise entry.fail(f"{key} {fact.value!r} is not a phone number like 042-386-0295")
    opening = entry.optional_text("opening_hours")
    if (opening is None) != (facts["hours"] is None):
        raise entry.fail("hours (the words) and opening_hours (calendar.yaml's id) go together")
    ask_at = entry.optional_text("ask_at")
    if window_id == "general_desk" and ask_at is not None:
        raise entry.fail("general_desk is where everyone asks; its ask_at must be null")
    if window_id != "general_desk" and ask_at is None:
        raise entry.fail("ask_at is required (the window to ask when facts are missing)")
    return Window(
        id=window_id,
        name=entry.text("name"),
        short_name=short_name,
        kind=kind,
        purpose=entry.text("purpose"),
        for_whom=entry.text("for_whom"),
        phone=facts["phone"],
        hours=facts["hours"],
        reservation=facts["reservation"],
        place=facts["place"],
        schedule=facts["schedule"],
        fee=facts["fee"],
        ask_at=ask_at,
        bookable=entry.boolean("bookable"),
        sources=sources,
        city_contact=facts["city_contact"],
        city_contact_label=entry.optional_text("city_contact_label"),
        opening_hours=opening,
    )


def read_windows(path: Path) -> Mapping[str, Window]:
    """Load and validate a windows file; raises KnowledgeDataError (a ValueError) if bad."""
    file = str(path)
    windows: dict[str, Window] = {}
    for entry in entries(file, read_yaml(path), "windows"):
        window = _window(entry)
        windows[window.id] = window
    missing = [window_id for window_id in REQUIRED_IDS if window_id not in windows]
    if missing:
        raise KnowledgeDataError(file, "windows", f"missing window id(s) {', '.join(missing)}")
    for window in windows.values():
        if window.ask_at is not None and window.ask_at not in windows:
            raise KnowledgeDataError(file, window.id, f"ask_at {window.ask_at!r} is unknown")
        if window.ask_at is not None and windows[window.ask_at].ask_at is not None:
            # One hop only: the place to ask must itself be the end of the line.
            raise KnowledgeDataError(
                file, window.id, f"ask_at {window.ask_at!r} must be a window without ask_at"
            )
    return MappingProxyType(windows)


@cache
def load_windows() -> Mapping[str, Window]:
    """The packaged catalogue, validated once per process."""
    return read_windows(data_file("windows.yaml"))


#: Every window id, including ``out_of_scope``, in catalogue order (windows.yaml's).
WINDOW_IDS: tuple[str, ...] = tuple(load_windows())


def get_window(window_id: str) -> Window:
    """The window with this id; KeyError for an unknown id."""
    return load_windows()[window_id]


def contact_window(window_id: str) -> Window:
    """The window to phone about this one: itself if the seeds give its phone, else ask_at.

    Most windows have no phone in the seeds; the bot then points to the 福祉総合相談窓口
    rather than to nothing (never a dead end).
    """
    window = get_window(window_id)
    while window.phone is None and window.ask_at is not None:
        window = get_window(window.ask_at)
    return window
