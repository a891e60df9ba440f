"""All resident-facing words: one store, one file per language (ja.yaml, the reference, and
any <lang>.yaml beside it), checked once at import.

A key missing in one language, a wrong placeholder, a label longer than LINE allows, a
preachy phrase, a language without review rules or a key the code does not use stops the
program at start, not in front of a resident at 3 a.m. What the code uses is declared in
bot.conversation.texts.spec; facts (phones, hours, places, service names) come from
knowledge/ and are filled into {placeholders}.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bot.conversation.messages import LABEL_MAX
from bot.conversation.texts.spec import (
    DEFAULT_LANGUAGE,
    FORBIDDEN,
    META_KEYS,
    TEXTS,
    labels,
)

#: Every label name (spec.labels(): fixed ones, and one per menu entry in knowledge/).
LABELS: tuple[str, ...] = labels()
#: `text(key, lang=…)` takes the language by this name, so no placeholder may use it.
if any("lang" in names for names in TEXTS.values()):
    raise ValueError("texts/spec.py: a placeholder may not be called 'lang'")

__all__ = [
    "DEFAULT_LANGUAGE",
    "LABELS",
    "LABEL_MAX",
    "Language",
    "TextsError",
    "consent_hash",
    "consent_text",
    "consent_version",
    "label",
    "languages",
    "path_of",
    "text",
    "validate",
    "weekday",
]


class TextsError(ValueError):
    """A texts file is invalid; the message says which file, which key and why."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A duplicated key would silently drop a text: refuse it."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise TextsError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class Language:
    """One language's words, validated against the spec."""

    code: str
    texts: dict[str, str]
    labels: dict[str, str]
    weekdays: tuple[str, ...]
    consent_version: str


def _placeholders(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def _walk(prefix: str, node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _walk(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = node


def _flat(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise TextsError(f"invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TextsError("must be a mapping")
    flat: dict[str, Any] = {}
    _walk("", raw, flat)
    return flat


def _check_phrases(flat: dict[str, Any], forbidden: tuple[str, ...]) -> None:
    for key, value in flat.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            folded = str(item).casefold()
            for phrase in forbidden:
                if phrase.casefold() in folded:
                    raise TextsError(f"{key}: avoid 「{phrase}」 (no preaching)")


def _read(path: Path, code: str) -> Language:
    if code not in FORBIDDEN:
        raise TextsError(f"language {code!r} has no review rules (spec.FORBIDDEN)")
    flat = _flat(path)
    _check_phrases(flat, FORBIDDEN[code])
    label_names = labels()
    known = {*TEXTS, *(f"labels.{name}" for name in label_names)}
    known |= {"time.weekdays", "consent.version", *META_KEYS}
    unused = sorted(set(flat) - known)
    if unused:
        raise TextsError(f"{unused[0]}: not used by the code (declare it in texts/spec.py)")
    texts: dict[str, str] = {}
    for key, expected in TEXTS.items():
        value = flat.get(key)
        if not isinstance(value, str) or not value.strip():
            raise TextsError(f"{key}: missing or not text")
        try:
            found = _placeholders(value)
        except ValueError as exc:
            raise TextsError(f"{key}: bad braces: {exc}") from exc
        if found != expected:
            raise TextsError(
                f"{key}: placeholders {sorted(found)} but the code fills {sorted(expected)}"
            )
        texts[key] = value
    buttons: dict[str, str] = {}
    for name in label_names:
        value = flat.get(f"labels.{name}")
        if not isinstance(value, str) or not value.strip():
            raise TextsError(f"labels.{name}: missing")
        if len(value) > LABEL_MAX:
            raise TextsError(f"labels.{name}: longer than {LABEL_MAX} characters")
        buttons[name] = value
    weekdays = flat.get("time.weekdays")
    if not (isinstance(weekdays, list) and len(weekdays) == 7):
        raise TextsError("time.weekdays: seven names, Monday first")
    version = flat.get("consent.version")
    if not isinstance(version, str) or not 0 < len(version) <= 32:
        raise TextsError("consent.version: a string of at most 32 characters")
    return Language(code, texts, buttons, tuple(str(w) for w in weekdays), version)


def read_language(path: Path, code: str | None = None) -> Language:
    """Load and check one language file; `code` defaults to the file's name (ja.yaml → ja),
    or the reference language for a file named otherwise."""
    if code is None:
        code = path.stem if path.stem in FORBIDDEN else DEFAULT_LANGUAGE
    try:
        return _read(path, code)
    except TextsError as exc:
        raise TextsError(f"{path.name}: {exc}") from None


def read_store(directory: Path) -> dict[str, Language]:
    """Every <lang>.yaml of a directory, checked one by one and against each other."""
    store = {path.stem: read_language(path, path.stem) for path in sorted(directory.glob("*.yaml"))}
    reference = store.get(DEFAULT_LANGUAGE)
    if reference is None:
        raise TextsError(f"{directory}: no {DEFAULT_LANGUAGE}.yaml (the reference language)")
    for language in store.values():
        if language.consent_version != reference.consent_version:
            raise TextsError(
                f"{language.code}.yaml: consent.version {language.consent_version!r} differs "
                f"from {DEFAULT_LANGUAGE}.yaml's (bump it in every language)"
            )
    return store


@cache
def _directory() -> Path:
    # Cached: resolving a package resource costs more than the lookup it serves.
    return Path(str(resources.files("bot.conversation.texts")))


def path_of(lang: str = DEFAULT_LANGUAGE) -> Path:
    """The file holding one language's words."""
    return _directory() / f"{lang}.yaml"


@cache
def _store() -> dict[str, Language]:
    return read_store(_directory())


def languages() -> tuple[str, ...]:
    """The languages residents can be answered in (the reference first)."""
    return (DEFAULT_LANGUAGE, *sorted(set(_store()) - {DEFAULT_LANGUAGE}))


def text(key: str, *, lang: str = DEFAULT_LANGUAGE, **values: Any) -> str:
    """The text for `key` in `lang` with its placeholders filled (no placeholder is called
    `lang`)."""
    template = _store()[lang].texts[key]
    return template.format(**values) if values or "{" in template else template


def label(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    return _store()[lang].labels[name]


def weekday(index: int, lang: str = DEFAULT_LANGUAGE) -> str:
    return _store()[lang].weekdays[index]


def consent_version() -> str:
    return _store()[DEFAULT_LANGUAGE].consent_version


def consent_text(lang: str = DEFAULT_LANGUAGE) -> str:
    return text("consent.text", lang=lang)


def consent_hash(lang: str = DEFAULT_LANGUAGE) -> str:
    """sha256 (hex) of the exact consent text shown to the resident."""
    return hashlib.sha256(consent_text(lang).encode("utf-8")).hexdigest()


def validate(path: str | Path | None = None) -> None:
    """Check a language file, or a directory of them (default: the packaged store);
    raises TextsError when anything is invalid."""
    if path is None:
        _store()
        return
    target = Path(path)
    if target.is_dir():
        read_store(target)
    else:
        read_language(target)


validate()
