"""Shared helpers for reading and validating the knowledge YAML files.

Knowledge is data reviewed like code, so a mistake in a file must stop the program at load
time with a message that names the file and the entry, never surface later as a wrong
answer to a resident. Every loader goes through these helpers for that reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DATA_PACKAGE = "knowledge.data"

# A seed reference: file 000–004, a line or an inclusive line range ("000:12", "000:12-20").
_SOURCE_RE = re.compile(r"^00[0-4]:(?P<start>[1-9]\d*)(?:-(?P<end>[1-9]\d*))?$")
_TIME_RE = re.compile(r"^(?P<h>[0-2]\d):(?P<m>[0-5]\d)$")


class KnowledgeDataError(ValueError):
    """A knowledge file is invalid; the message names the file and the entry."""

    def __init__(self, file: str, entry: str, problem: str) -> None:
        super().__init__(f"{file}: {entry}: {problem}")
        self.file = file
        self.entry = entry
        self.problem = problem


def data_file(name: str) -> Path:
    """Path of a packaged data file; works from a checkout and from an installed wheel."""
    return Path(str(resources.files(DATA_PACKAGE).joinpath(name)))


#: libyaml's safe loader when PyYAML was built with it (the wheels are): the lexicon and the
#: risk data are ~50 files, and the pure-Python parser spent ~1 s of the engine's start on them.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning syntax errors into a KnowledgeDataError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeDataError(str(path), "<file>", f"cannot read: {exc}") from exc
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise KnowledgeDataError(str(path), "<file>", f"invalid YAML: {exc}") from exc


class Entry:
    """Typed access to one mapping in a file, with errors that say where the problem is."""

    def __init__(self, file: str, name: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise KnowledgeDataError(file, name, "must be a mapping")
        self.file = file
        self.name = name
        self.raw: Mapping[str, Any] = raw

    def fail(self, problem: str) -> KnowledgeDataError:
        return KnowledgeDataError(self.file, self.name, problem)

    def check_keys(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.raw) - allowed)
        if unknown:
            raise self.fail(f"unknown field(s) {', '.join(map(str, unknown))}")

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"field {key!r} is required and must be a non-empty string")
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def integer(self, key: str, *, minimum: int = 0, default: int | None = None) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"field {key!r} must be an integer >= {minimum}")
        return value

    def boolean(self, key: str, *, default: bool | None = None) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"field {key!r} must be true or false")
        return value

    def text_list(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        value = self.raw.get(key)
        if not required and (value is None or value == []):
            return ()
        if not isinstance(value, list) or not value:
            raise self.fail(f"field {key!r} must be a non-empty list")
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"field {key!r} must contain only non-empty strings")
        return tuple(v.strip() for v in value)

    def source(self, key: str = "source") -> str:
        return check_source(self.file, self.name, self.raw.get(key))

    def clock(self, key: str) -> time:
        return parse_clock(self.file, self.name, self.raw.get(key))

    def sub(self, key: str) -> Entry:
        return Entry(self.file, f"{self.name}.{key}", self.raw.get(key))


def check_source(file: str, entry: str, value: object) -> str:
    """Validate a seed reference such as ``000:110-120``."""
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeDataError(file, entry, "a fact needs a source like '000:12' or '000:12-20'")
    match = _SOURCE_RE.match(value.strip())
    if match is None:
        raise KnowledgeDataError(
            file, entry, f"source {value!r} is not of the form '000:12' or '000:12-20' (000-004)"
        )
    end = match.group("end")
    if end is not None and int(end) < int(match.group("start")):
        raise KnowledgeDataError(file, entry, f"source {value!r} has a range that ends first")
    return value.strip()


def parse_clock(file: str, entry: str, value: object) -> time:
    """Parse ``"HH:MM"``; ``"24:00"`` becomes ``time.max`` (end of day)."""
    if not isinstance(value, str):
        raise KnowledgeDataError(file, entry, f"time {value!r} must be a quoted 'HH:MM' string")
    match = _TIME_RE.match(value)
    if match is None:
        raise KnowledgeDataError(file, entry, f"time {value!r} must be 'HH:MM'")
    hour, minute = int(match.group("h")), int(match.group("m"))
    if (hour, minute) == (24, 0):
        return time.max
    if hour > 23:
        raise KnowledgeDataError(file, entry, f"time {value!r} is out of range")
    return time(hour, minute)


def parse_date(file: str, entry: str, value: object) -> date:
    """Accept a YAML date or an ISO string."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise KnowledgeDataError(file, entry, f"date {value!r} must be YYYY-MM-DD")


def entries(file: str, document: object, key: str) -> list[Entry]:
    """The list under ``key`` of a top-level mapping, as Entries named by their ``id``."""
    if not isinstance(document, Mapping):
        raise KnowledgeDataError(file, "<file>", "top level must be a mapping")
    items = document.get(key)
    if not isinstance(items, list) or not items:
        raise KnowledgeDataError(file, key, "must be a non-empty list")
    result: list[Entry] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        entry = Entry(file, f"{key}[{index}]", raw)
        ident = entry.raw.get("id")
        if isinstance(ident, str) and ident:
            entry.name = f"{key}[{index}] (id {ident})"
            if ident in seen:
                raise entry.fail(f"duplicate id {ident!r}")
            seen.add(ident)
        result.append(entry)
    return result
