"""Example requests per window: the second routing signal's data (beside the lexicon).

One YAML file per window under ``knowledge/examples/`` (optional: a window without one is
described by its windows.yaml entry alone)::

    window: housing_benefit
    source: windows.md                    # or: seeds 000:133-136, colloquial, …
    description_en: a housing allowance for people who may lose their home …
    examples:
      ja: [仕事をクビになって家賃が払えない, …]
      en: [I lost my job and can't pay my rent, …]

The examples are short requests written the way residents write, by concept (a kind of
worry), never copied from an evaluation set. The triage compares a message with them and
with each window's own description (name, purpose, for whom), and names the example it
resembled and the words they share — so staff can see why, as with the lexicon.

Validated on load like the lexicon: an unknown window, an unknown field, an empty or
duplicated example, a missing source stop the program with the file and the entry named.
Pure: imports nothing of ours outside knowledge/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from knowledge._loading import Entry, KnowledgeDataError, read_yaml
from knowledge.lexicon import check_origin, term_key
from knowledge.windows import WINDOW_IDS, get_window

EXAMPLES_DIR = Path(__file__).with_name("examples")
LANGUAGES = ("ja", "en")
_FILE_FIELDS = {"window", "source", "description_en", "examples", "note"}
#: LINE shows long texts, but an example is one request: keep them short and to the point.
EXAMPLE_MAX = 80


@dataclass(frozen=True, slots=True)
class WindowExamples:
    """What one window is for, in words a message can be compared with."""

    window: str
    #: The window's own description per language (ja: name, purpose and for whom from
    #: windows.yaml; en: `description_en`).
    description: Mapping[str, str]
    #: Example requests per language.
    examples: Mapping[str, tuple[str, ...]]
    source: str
    file: str = ""


def _texts(entry: Entry, key: str) -> tuple[str, ...]:
    raw = entry.raw.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, str) and t.strip() for t in raw):
        raise entry.fail(f"examples.{key} must be a list of non-empty texts")
    texts = tuple(t.strip() for t in raw)
    seen: set[str] = set()
    for text in texts:
        if len(text) > EXAMPLE_MAX:
            raise entry.fail(f"example longer than {EXAMPLE_MAX} characters: {text[:20]}…")
        folded = term_key(text)
        if folded in seen:
            raise entry.fail(f"duplicate example {text!r}")
        seen.add(folded)
    return texts


def parse_examples_file(
    file: str, document: object, known_windows: Iterable[str] = WINDOW_IDS
) -> WindowExamples:
    top = Entry(file, "<file>", document)
    top.check_keys(_FILE_FIELDS)
    window = top.text("window")
    if window not in frozenset(known_windows):
        raise top.fail(f"unknown window id {window!r}")
    top.name = window
    source = check_origin(file, window, top.raw.get("source"))
    examples_raw = Entry(file, f"{window}.examples", top.raw.get("examples") or {})
    examples_raw.check_keys(set(LANGUAGES))
    examples = {lang: _texts(examples_raw, lang) for lang in LANGUAGES}
    description_en = top.optional_text("description_en") or ""
    info = get_window(window)
    description = {
        "ja": f"{info.name} {info.purpose} {info.for_whom}",
        "en": description_en,
    }
    return WindowExamples(
        window, MappingProxyType(description), MappingProxyType(examples), source, file
    )


def read_examples(
    directory: Path, known_windows: Iterable[str] = WINDOW_IDS
) -> Mapping[str, WindowExamples]:
    """Every ``*.yaml`` of an examples directory, one window each (sorted by file name)."""
    known = tuple(known_windows)
    out: dict[str, WindowExamples] = {}
    for path in sorted(directory.glob("*.yaml")):
        parsed = parse_examples_file(path.name, read_yaml(path), known)
        if parsed.window in out:
            raise KnowledgeDataError(path.name, parsed.window, "a second file for this window")
        out[parsed.window] = parsed
    return MappingProxyType(out)


@cache
def load_examples() -> Mapping[str, WindowExamples]:
    """The packaged examples; windows without a file get their description only."""
    found = dict(read_examples(EXAMPLES_DIR))
    for window in WINDOW_IDS:
        if window not in found:
            info = get_window(window)
            found[window] = WindowExamples(
                window,
                MappingProxyType({"ja": f"{info.name} {info.purpose} {info.for_whom}", "en": ""}),
                MappingProxyType({lang: () for lang in LANGUAGES}),
                "windows.md",
            )
    return MappingProxyType(found)
