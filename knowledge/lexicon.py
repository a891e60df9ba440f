"""The routing lexicon: the words residents use, grouped by meaning, with a weight per group.

One YAML file per window (or family of windows) under ``knowledge/lexicon/``::

    window: housing_benefit
    groups:
      - name: rent_trouble
        source: seeds 000:133-136        # or: colloquial, slang, kana, typos, family, neighbour
        weight: 0.8                      # in (0, 1]: how sure one match makes us
        terms: [家賃, やちん, 家賃が払えない]
        reporter: [family, third_party]  # optional: only counts when the writer is one of these
        vague: false                     # optional: a vague worry (asks a question back)
        who: false                       # optional: names who the person is, not the need
        before: [household_budget]       # optional: when it counts, its window opens first

The file is validated on load: an unknown window id, an unknown field, a duplicate group or
term, an empty term, a weight out of range or a missing source stop the program with a
message naming the file and the group. This module is pure (no import of ours outside
knowledge/); the triage layer compiles the terms for matching.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from knowledge._loading import Entry, KnowledgeDataError, check_source, read_yaml
from knowledge.windows import WINDOW_IDS

LEXICON_DIR = Path(__file__).with_name("lexicon")
REPORTERS = frozenset({"self", "family", "third_party", "unknown"})
#: Where a group's words come from when not from a seed line.
ORIGINS = frozenset(
    {"colloquial", "slang", "kana", "typos", "family", "neighbour", "windows.md", "domain"}
)
_GROUP_FIELDS = {
    "name",
    "source",
    "weight",
    "terms",
    "reporter",
    "vague",
    "who",
    "before",
    "requires",
    "note",
}
_FILE_FIELDS = {"window", "groups", "note"}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# Re-exported so callers can catch one error type for every knowledge file.
LexiconError = KnowledgeDataError


@dataclass(frozen=True, slots=True)
class MeaningGroup:
    """Words that mean one thing for one window (e.g. 家賃が払えない → housing_benefit)."""

    window: str
    name: str
    source: str
    weight: float
    terms: tuple[str, ...]
    #: The writer must be one of these for the group to count (None: anyone).
    reporter: frozenset[str] | None = None
    #: A vague worry (しんどい, 相談したい): routes to the general desk and asks back.
    vague: bool = False
    #: Names of groups of the same window that must also match for this one to count.
    requires: tuple[str, ...] = ()
    #: Names who the person is or what they already have (障害, ひとり親, 80歳, 介護保険),
    #: not what they ask: such a window steps behind another window's need (借りたい,
    #: 部屋探し, 住民票の写し) — the label rules route the need, whoever has it.
    who: bool = False
    #: Windows this group's window opens before when both are read (a label rule: rent
    #: after a job loss is the 住居確保給付金's though card debts sit beside it).
    before: tuple[str, ...] = ()
    file: str = ""


@dataclass(frozen=True, slots=True)
class Lexicon:
    groups: tuple[MeaningGroup, ...]

    def windows(self) -> frozenset[str]:
        return frozenset(g.window for g in self.groups)

    def for_window(self, window: str) -> tuple[MeaningGroup, ...]:
        return tuple(g for g in self.groups if g.window == window)

    def term_count(self) -> int:
        return sum(len(g.terms) for g in self.groups)


def term_key(term: str) -> str:
    """How two spellings count as the same entry: NFKC, lower case, hiragana, no spaces."""
    text = unicodedata.normalize("NFKC", term).lower()
    text = "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)
    return "".join(text.split())


def check_origin(file: str, entry: str, value: object) -> str:
    """A group's source: ``seeds 000:133-136`` (several joined by ``;``) or a known origin."""
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeDataError(file, entry, "a meaning group needs a source")
    text = value.strip()
    if text.startswith("seeds "):
        for ref in text.removeprefix("seeds ").split(";"):
            check_source(file, entry, ref.strip())
        return text
    if text not in ORIGINS:
        raise KnowledgeDataError(
            file, entry, f"source {text!r} is neither 'seeds 000:12' nor one of {sorted(ORIGINS)}"
        )
    return text


def _weight(entry: Entry) -> float:
    value = entry.raw.get("weight")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise entry.fail("field 'weight' must be a number in (0, 1]")
    weight = float(value)
    if not 0.0 < weight <= 1.0:
        raise entry.fail(f"weight {weight} is out of range (0, 1]")
    return weight


def _before(entry: Entry, window: str, known_windows: frozenset[str]) -> tuple[str, ...]:
    values = entry.text_list("before", required=False)
    for other in values:
        if other not in known_windows or other == window:
            raise entry.fail(f"'before' names {other!r}: not another known window")
    return values


def _group(entry: Entry, window: str, known_windows: frozenset[str]) -> MeaningGroup:
    entry.check_keys(_GROUP_FIELDS)
    name = entry.text("name")
    if not _NAME_RE.match(name):
        raise entry.fail(f"group name {name!r} must be snake_case ascii")
    entry.name = f"{window}.{name}"
    reporter: frozenset[str] | None = None
    if entry.has("reporter"):
        values = entry.text_list("reporter")
        unknown = sorted(set(values) - REPORTERS)
        if unknown:
            raise entry.fail(f"unknown reporter(s) {unknown}")
        reporter = frozenset(values)
    if window not in known_windows:
        raise entry.fail(f"unknown window id {window!r}")
    return MeaningGroup(
        window=window,
        name=name,
        source=check_origin(entry.file, entry.name, entry.raw.get("source")),
        weight=_weight(entry),
        terms=entry.text_list("terms"),
        reporter=reporter,
        vague=entry.boolean("vague", default=False),
        who=entry.boolean("who", default=False),
        before=_before(entry, window, known_windows),
        requires=entry.text_list("requires", required=False),
        file=entry.file,
    )


def parse_lexicon_file(
    file: str, document: object, known_windows: Iterable[str] = WINDOW_IDS
) -> tuple[MeaningGroup, ...]:
    """Validate one parsed YAML document and return its meaning groups."""
    known = frozenset(known_windows)
    top = Entry(file, "<file>", document)
    top.check_keys(_FILE_FIELDS)
    window = top.text("window")
    if window not in known:
        raise top.fail(f"unknown window id {window!r}")
    raw_groups = top.raw.get("groups")
    if not isinstance(raw_groups, list) or not raw_groups:
        raise top.fail("'groups' must be a non-empty list")
    return tuple(
        _group(Entry(file, f"groups[{i}]", raw), window, known) for i, raw in enumerate(raw_groups)
    )


def _overlap(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
    return a is None or b is None or bool(a & b)


def build_lexicon(groups_in: Iterable[MeaningGroup]) -> Lexicon:
    """Check the groups across files: no duplicate group, and no term twice in one window
    for the same writer (a term may appear once per reporter-specific group)."""
    groups = list(groups_in)
    # Context groups (named by another group's `requires`) may repeat a topical word.
    contexts = {(g.window, need) for g in groups for need in g.requires}
    seen_groups: set[tuple[str, str]] = set()
    seen_terms: dict[tuple[str, str], list[MeaningGroup]] = {}
    result: list[MeaningGroup] = []
    for group in groups:
        where = f"{group.window}.{group.name}"
        if (group.window, group.name) in seen_groups:
            raise KnowledgeDataError(group.file, where, "duplicate meaning group")
        seen_groups.add((group.window, group.name))
        for term in group.terms:
            key = (group.window, term_key(term))
            if not key[1]:
                raise KnowledgeDataError(group.file, where, "empty term")
            earlier = seen_terms.setdefault(key, [])
            for other in earlier:
                either_context = (group.window, group.name) in contexts or (
                    other.window,
                    other.name,
                ) in contexts
                if not either_context and _overlap(other.reporter, group.reporter):
                    raise KnowledgeDataError(
                        group.file,
                        where,
                        f"duplicate term {term!r} (also in {other.window}.{other.name})",
                    )
            earlier.append(group)
        result.append(group)
    if not result:
        raise KnowledgeDataError("<lexicon>", "<all>", "the lexicon is empty")
    for group in result:
        for need in group.requires:
            if (group.window, need) not in seen_groups or need == group.name:
                raise KnowledgeDataError(
                    group.file, f"{group.window}.{group.name}", f"requires unknown group {need!r}"
                )
    return Lexicon(groups=tuple(result))


def read_lexicon(directory: Path, known_windows: Iterable[str] = WINDOW_IDS) -> Lexicon:
    """Read and validate every ``*.yaml`` file of a lexicon directory (sorted by name)."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise KnowledgeDataError(str(directory), "<dir>", "no lexicon files")
    known = tuple(known_windows)
    groups: list[MeaningGroup] = []
    for path in files:
        groups.extend(parse_lexicon_file(path.name, read_yaml(path), known))
    return build_lexicon(groups)


def check_covers(lexicon: Lexicon, window_ids: Iterable[str]) -> None:
    """Every window of the catalogue has its words: a window added to windows.yaml without
    its lexicon file could never be routed to, so it stops the program at load."""
    missing = [w for w in window_ids if w not in lexicon.windows()]
    if missing:
        raise KnowledgeDataError(
            str(LEXICON_DIR), "<dir>", f"no lexicon for window id(s) {', '.join(missing)}"
        )


@cache
def load_lexicon() -> Lexicon:
    """The packaged lexicon, read once; it covers every window of the catalogue."""
    lexicon = read_lexicon(LEXICON_DIR)
    check_covers(lexicon, WINDOW_IDS)
    return lexicon


def describe(lexicon: Lexicon) -> Mapping[str, int]:
    """Terms per window, for reports and the benchmark."""
    counts: dict[str, int] = {}
    for group in lexicon.groups:
        counts[group.window] = counts.get(group.window, 0) + len(group.terms)
    return counts
