"""All user-facing wording, loaded from texts.yaml and checked once at import.

A missing key, a wrong placeholder, a label longer than LINE allows or a preachy phrase
stops the program at start, not in front of a resident at 3 a.m.
"""

from __future__ import annotations

import hashlib
import string
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

LABEL_MAX = 20
#: Phrases that lecture or pressure (staff review rule): rejected anywhere in the file.
FORBIDDEN = ("べき", "頑張って", "がんばって", "しなければ", "しないと駄目")

#: Every text the code uses, with the placeholders it fills.
SPEC: dict[str, frozenset[str]] = {
    key: frozenset(names)
    for key, names in {
        "consent.text": (),
        "follow.welcome": ("desk", "hours"),
        "follow.privacy": (),
        "follow.ask": (),
        "menu.ask": (),
        "start.money": (),
        "start.housing": (),
        "start.family": (),
        "start.hikikomori": (),
        "start.neighbour": (),
        "start.feelings": ("name", "number", "hours"),
        "start.write": (),
        "answer.ack_self": (),
        "answer.ack_family": (),
        "answer.ack_third_party": (),
        "answer.ack_concern": (),
        "answer.why_words": ("words",),
        "answer.why_plain": (),
        "answer.why_many": (),
        "answer.next": (),
        "answer.next_reserve": ("desk",),
        "answer.cards_alt": ("summary",),
        "card.phone": (),
        "card.hours": (),
        "card.reservation": (),
        "card.place": (),
        "card.schedule": (),
        "card.fee": (),
        "card.ask_desk": ("desk", "phone"),
        "card.alt_line": ("name", "phone"),
        "card.alt_line_no_phone": ("name", "desk", "phone"),
        "ibasho.intro": (),
        "other.ask": (),
        "neighbour_child.danger_line": ("name", "number", "hours"),
        "out_of_scope.text": ("desk", "phone"),
        "clarify.ask": (),
        "clarify.fallback": (),
        "concern.check_in": ("name", "number", "hours"),
        "concern.very_hard": (),
        "concern.very_hard_end": (),
        "crisis.opening": (),
        "crisis.danger_now": ("number", "name"),
        "crisis.line": ("name", "number", "hours"),
        "crisis.desk_open": ("desk", "phone"),
        "crisis.staff_open": ("desk",),
        "crisis.staff_closed": ("when",),
        "crisis.offer": (),
        "crisis.after_routine": (),
        "handoff.declined": (),
        "handoff.contact_method": (),
        "handoff.ask_phone": (),
        "handoff.bad_phone": (),
        "handoff.ask_time": (),
        "handoff.ask_time_free": (),
        "handoff.done_open": (),
        "handoff.done_closed": ("when",),
        "handoff.done_line_tail": (),
        "handoff.done_phone_tail": ("phone",),
        "handoff.done_safety": ("name", "number"),
        "handoff.withdrawn": (),
        "handoff.not_given": (),
        "erase.confirm": (),
        "erase.done": (),
        "erase.kept": (),
        "media.text": (),
        "media.location": (),
        "staff.reading": (),
        "error.fallback": ("desk", "phone", "name", "number"),
        "time.when": ("month", "day", "weekday", "clock"),
        "time.clock_minutes": ("hour", "minute"),
        "time.clock_hour": ("hour",),
        "time.contact_am": (),
        "time.contact_pm": (),
        "time.contact_any": (),
    }.items()
}

LABELS: tuple[str, ...] = (
    "start_money",
    "start_housing",
    "start_family",
    "start_hikikomori",
    "start_feelings",
    "start_neighbour",
    "staff",
    "ibasho",
    "other",
    "book",
    "write",
    "menu",
    "consent_yes",
    "consent_no",
    "contact_line",
    "contact_phone",
    "time_am",
    "time_pm",
    "time_any",
    "time_free",
    "erase_yes",
    "erase_no",
    "very_hard",
    "call",
    "call_desk",
    "family_hikikomori",
    "cat_rent",
    "cat_debt",
    "cat_job",
    "cat_living",
    "cat_house_search",
    "cat_child",
    "cat_elderly",
    "cat_hikikomori_family",
    "cat_disability",
    "cat_partner",
    "cat_school",
    "cat_women",
    "cat_consumer",
    "cat_rights",
    "cat_volunteer",
    "cat_money",
    "cat_housing",
    "cat_hikikomori",
    "cat_feelings",
    "cat_neighbour",
    "cat_general",
    "cat_family_other",
    "cat_neighbour_elderly",
    "cat_neighbour_child",
    "cat_neighbour_hikikomori",
    "cat_neighbour_unknown",
)


class TextsError(ValueError):
    """texts.yaml is invalid; the message says which key and why."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A duplicated key would silently drop a text: refuse it."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise TextsError(
                f"texts.yaml: duplicate key {key!r} (line {key_node.start_mark.line + 1})"
            )
        seen.add(key)
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _placeholders(text: str) -> frozenset[str]:
    names = set()
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None:
            names.add(name)
    return frozenset(names)


def _walk(prefix: str, node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _walk(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = node


@cache
def _load(path: str) -> tuple[dict[str, str], dict[str, str], tuple[str, ...], str]:
    try:
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise TextsError(f"texts.yaml: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TextsError("texts.yaml: must be a mapping")
    flat: dict[str, Any] = {}
    _walk("", raw, flat)
    for key, value in flat.items():
        if isinstance(value, str):
            for phrase in FORBIDDEN:
                if phrase in value:
                    raise TextsError(f"texts.yaml: {key}: avoid 「{phrase}」 (no preaching)")
    texts: dict[str, str] = {}
    for key, expected in SPEC.items():
        value = flat.get(key)
        if not isinstance(value, str) or not value.strip():
            raise TextsError(f"texts.yaml: {key}: missing or not text")
        try:
            found = _placeholders(value)
        except ValueError as exc:
            raise TextsError(f"texts.yaml: {key}: bad braces: {exc}") from exc
        if found != expected:
            raise TextsError(
                f"texts.yaml: {key}: placeholders {sorted(found)} but the code fills "
                f"{sorted(expected)}"
            )
        texts[key] = value
    labels: dict[str, str] = {}
    for name in LABELS:
        value = flat.get(f"labels.{name}")
        if not isinstance(value, str) or not value.strip():
            raise TextsError(f"texts.yaml: labels.{name}: missing")
        if len(value) > LABEL_MAX:
            raise TextsError(f"texts.yaml: labels.{name}: longer than {LABEL_MAX} characters")
        labels[name] = value
    weekdays = flat.get("time.weekdays")
    if not (isinstance(weekdays, list) and len(weekdays) == 7):
        raise TextsError("texts.yaml: time.weekdays: seven names, Monday first")
    version = flat.get("consent.version")
    if not isinstance(version, str) or not 0 < len(version) <= 32:
        raise TextsError("texts.yaml: consent.version: a string of at most 32 characters")
    return texts, labels, tuple(str(w) for w in weekdays), version


@cache
def _default_path() -> str:
    # Cached: resolving a package resource costs more than the lookup it serves.
    return str(resources.files("bot.conversation").joinpath("texts.yaml"))


def text(key: str, **values: Any) -> str:
    """The text for `key` with its placeholders filled."""
    template = _load(_default_path())[0][key]
    return template.format(**values) if values or "{" in template else template


def label(name: str) -> str:
    return _load(_default_path())[1][name]


def weekday(index: int) -> str:
    return _load(_default_path())[2][index]


def consent_version() -> str:
    return _load(_default_path())[3]


def consent_text() -> str:
    return text("consent.text")


def consent_hash() -> str:
    """sha256 (hex) of the exact consent text shown to the resident."""
    return hashlib.sha256(consent_text().encode("utf-8")).hexdigest()


def validate(path: str | None = None) -> None:
    """Load (and so check) a texts file; raises TextsError when it is invalid."""
    _load(path or _default_path())


validate()
