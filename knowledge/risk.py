"""The risk model as data: concepts a counsellor listens for, and the frames they combine into.

Two files under ``knowledge/data/risk/``, reviewed by a 相談員 like code:

``concepts.yaml`` — what words mean, grouped by meaning::

    concepts:
      - id: rope                 # snake_case, referenced by frames
        role: means              # what kind of concept it is (ROLES below)
        note: 首をつる道具。…      # why it is here, for the reviewer
        terms: [ロープ, 縄, ひも]  # written as residents write them; compiled through Sudachi
        effect: cancel           # scope concepts only: cancel (→ normal) or lower (→ concern)

A term is matched on Sudachi lemmas, so conjugation and dropped particles do not matter
(飲んだ, のんじゃった, 飲みました all read 飲む). ``#`` in a term stands for any number
(``# 錠`` matches 30錠, 三十錠), ``#10`` for a number of at least 10. A term starting with
``=`` is matched as written, on the text without spaces (``=かえってこない`` for messages
written all in kana, which Sudachi may split another way).

``frames.yaml`` — combinations that make a risk::

    frames:
      - id: overdose_taken
        axis: act                # the counsellor's axis, reported in `risk.frames`
        kind: self               # self | violence | child | elder | welfare_check | other_person
        level: crisis            # crisis or concern
        scope: clause            # clause (one sentence) or message
        all: [drug, ingest@done] # every item must be present; `a|b` means either
        any: [amount, aftermath] # optional: at least one of these too
        unless: [medical_question]  # scope concepts that cancel or lower it
        danger_now: true         # an act in progress or done, violence now …
        danger_now_with: [now]   # …or danger now only when one of these is present too
        note: 薬を量で飲んだ。119。

``@done`` (past, perfective or in progress), ``@now`` (in progress), ``@desire`` (〜たい),
``@volition`` (〜しよう), ``@conditional`` (〜れば, 〜たら), ``@wish`` (〜ればいいのに,
〜てほしい) and ``@any`` qualify how a concept must be conjugated; ``@subject`` that a person
is the subject (友達が, 妹は, 彼女から), ``@agent`` that they do the act (父に, 母が), ``@object``
that it is done to them (母を).

This module only reads and validates; triage/risk.py compiles and applies it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from knowledge._loading import Entry, KnowledgeDataError, entries, read_yaml

RISK_DIR = Path(__file__).parent / "data" / "risk"

KINDS = ("self", "violence", "child", "elder", "welfare_check", "other_person")
LEVELS = ("crisis", "concern")
SCOPES = ("clause", "message")
#: What a concept is. `scope` concepts change how a frame reads (negation, a book title,
#: someone else's death …); the others are pieces of a risk.
ROLES = (
    "ideation",
    "passive",
    "burden",
    "means",
    "method",
    "obtain",
    "intent",
    "preparation",
    "timing",
    "act",
    "amount",
    "state",
    "person",
    "harm",
    "sign",
    "report",
    "scope",
)
EFFECTS = ("cancel", "lower")
ASPECTS = (
    "any",
    "done",
    "now",
    "desire",
    "volition",
    "subject",
    "conditional",
    "wish",
    "passive",
    "agent",
    "object",
)
#: The axes of risk-frames.md, as reported in `risk.frames`.
AXES = (
    "passive_wish",
    "burden",
    "active_ideation",
    "method",
    "plan",
    "preparation",
    "timing",
    "act",
    "murder_suicide",
    "debt_insurance",
    "violence_now",
    "child_danger",
    "elder_abuse",
    "welfare_check",
    "other_person",
)

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CONCEPT_FIELDS = {"id", "role", "note", "terms", "effect", "void_with", "reach", "whole_message"}
_FRAME_FIELDS = {
    "id",
    "axis",
    "kind",
    "level",
    "scope",
    "all",
    "any",
    "unless",
    "danger_now",
    "danger_now_with",
    "denial_lowers",
    "call",
    "note",
}


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    role: str
    note: str
    terms: tuple[str, ...]
    #: For scope concepts: `cancel` reads the frame as not a risk, `lower` as concern.
    effect: str | None = None
    #: For scope concepts: concepts that, in the same clause, make this one not apply
    #: (昔は死にたかった、今も → still a risk).
    void_with: tuple[str, ...] = ()
    #: For scope concepts: how close (in tokens) it must be to the frame's words to apply
    #: (自殺のニュース, not 映画を見ていたら死にたくなった); None: anywhere in scope.
    reach: int | None = None
    #: For scope concepts: applies across the whole message, not only its own sentence
    #: (よく読んだら違った: the writer resolves a worry said sentences earlier).
    whole_message: bool = False


@dataclass(frozen=True, slots=True)
class Need:
    """One requirement of a frame: any of these (concept, aspect) options."""

    options: tuple[tuple[str, str], ...]

    @property
    def concepts(self) -> tuple[str, ...]:
        return tuple(concept for concept, _ in self.options)


@dataclass(frozen=True, slots=True)
class Frame:
    id: str
    axis: str
    kind: str
    level: str
    scope: str
    all: tuple[Need, ...]
    any: tuple[Need, ...]
    unless: tuple[str, ...]
    danger_now: bool
    danger_now_with: tuple[str, ...]
    note: str
    #: A clear "I don't want to die" elsewhere in the message lowers this frame to concern
    #: (死にたいわけじゃない。でも何のために生きてるのか…).
    denial_lowers: bool = False
    #: Whom to call first when this frame means danger now ("119", "110"); None: the
    #: default of its kind (RiskData.calls).
    call: str | None = None


@dataclass(frozen=True, slots=True)
class PatternScope:
    """How the spelling-noise layer's signals (triage/crisis.py) are read: whose risk they
    are, and which scope concepts cancel or lower them (自殺のニュース, 死にたいという歌)."""

    signal: str
    kind: str
    unless: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class RiskData:
    concepts: tuple[Concept, ...]
    frames: tuple[Frame, ...]
    patterns: tuple[PatternScope, ...] = ()
    #: Whom to call first, by kind, when someone is in danger now (frames may override).
    calls: dict[str, str] = field(default_factory=dict)

    def pattern(self, signal: str) -> PatternScope | None:
        return next((p for p in self.patterns if p.signal == signal), None)

    def concept(self, concept_id: str) -> Concept:
        for c in self.concepts:
            if c.id == concept_id:
                return c
        raise KeyError(concept_id)


def _concept(entry: Entry) -> Concept:
    entry.check_keys(_CONCEPT_FIELDS)
    ident = entry.text("id")
    if not _ID_RE.match(ident):
        raise entry.fail(f"concept id {ident!r} must be snake_case ascii")
    role = entry.text("role")
    if role not in ROLES:
        raise entry.fail(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    effect = entry.optional_text("effect")
    if role == "scope" and effect not in EFFECTS:
        raise entry.fail(f"a scope concept needs effect: {' or '.join(EFFECTS)}")
    if role != "scope" and effect is not None:
        raise entry.fail("only scope concepts have an effect")
    terms = entry.text_list("terms")
    seen: set[str] = set()
    for term in terms:
        if term in seen:
            raise entry.fail(f"duplicate term {term!r}")
        seen.add(term)
    void_with = entry.text_list("void_with", required=False)
    if void_with and role != "scope":
        raise entry.fail("only scope concepts have void_with")
    reach = entry.integer("reach", minimum=0) if entry.has("reach") else None
    if reach is not None and role != "scope":
        raise entry.fail("only scope concepts have a reach")
    whole = entry.boolean("whole_message", default=False)
    if whole and role != "scope":
        raise entry.fail("only scope concepts apply to the whole message")
    return Concept(ident, role, entry.text("note"), terms, effect, void_with, reach, whole)


def _need(entry: Entry, value: str, known: set[str]) -> Need:
    """`a|b|c@desire` (the aspect of the last one applies to all) or `a@done|b@done|c`
    (each its own)."""
    parts = [part.strip().partition("@") for part in value.split("|")]
    own = any(sep for _, sep, _ in parts[:-1])
    shared = "any" if own else (parts[-1][2] or "any")
    options: list[tuple[str, str]] = []
    for concept, sep, aspect in parts:
        aspect = aspect if sep else ("any" if own else shared)
        if aspect not in ASPECTS:
            raise entry.fail(f"{value!r}: unknown aspect {aspect!r} (one of {', '.join(ASPECTS)})")
        if concept not in known:
            raise entry.fail(f"{value!r}: unknown concept {concept!r}")
        options.append((concept, aspect))
    return Need(tuple(options))


def _frame(entry: Entry, concepts: dict[str, Concept]) -> Frame:
    entry.check_keys(_FRAME_FIELDS)
    ident = entry.text("id")
    if not _ID_RE.match(ident):
        raise entry.fail(f"frame id {ident!r} must be snake_case ascii")
    choices = {"axis": AXES, "kind": KINDS, "level": LEVELS, "scope": SCOPES}
    values: dict[str, str] = {}
    for key, allowed in choices.items():
        value = entry.text(key)
        if value not in allowed:
            raise entry.fail(f"{key} {value!r} is not one of {', '.join(allowed)}")
        values[key] = value
    known = set(concepts)
    needs_all = tuple(_need(entry, v, known) for v in entry.text_list("all"))
    needs_any = tuple(_need(entry, v, known) for v in entry.text_list("any", required=False))
    unless = entry.text_list("unless", required=False)
    for name in unless:
        if name not in concepts or concepts[name].role != "scope":
            raise entry.fail(f"unless {name!r} is not a scope concept")
    for need in (*needs_all, *needs_any):
        for name in need.concepts:
            if concepts[name].role == "scope":
                raise entry.fail(f"{name!r} is a scope concept: put it under unless")
    with_now = entry.text_list("danger_now_with", required=False)
    for name in with_now:
        if name not in known:
            raise entry.fail(f"danger_now_with: unknown concept {name!r}")
    return Frame(
        id=ident,
        axis=values["axis"],
        kind=values["kind"],
        level=values["level"],
        scope=values["scope"],
        all=needs_all,
        any=needs_any,
        unless=unless,
        danger_now=entry.boolean("danger_now", default=False),
        danger_now_with=with_now,
        note=entry.text("note"),
        denial_lowers=entry.boolean("denial_lowers", default=False),
        call=_call(entry, entry.optional_text("call")),
    )


CALLS = ("119", "110")


def _call(entry: Entry, value: str | None) -> str | None:
    if value is not None and value not in CALLS:
        raise entry.fail(f"call {value!r} is not one of {', '.join(CALLS)}")
    return value


_PATTERN_FIELDS = {"signal", "kind", "unless", "note"}


def _pattern(entry: Entry, concepts: dict[str, Concept]) -> PatternScope:
    entry.check_keys(_PATTERN_FIELDS)
    kind = entry.text("kind")
    if kind not in KINDS:
        raise entry.fail(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    unless = entry.text_list("unless", required=False)
    for name in unless:
        if name not in concepts or concepts[name].role != "scope":
            raise entry.fail(f"unless {name!r} is not a scope concept")
    return PatternScope(entry.text("signal"), kind, unless, entry.text("note"))


def parse_risk(
    concepts_doc: object,
    frames_doc: object,
    *,
    concepts_file: str = "concepts.yaml",
    frames_file: str = "frames.yaml",
) -> RiskData:
    """Validate both documents: unknown fields, roles, concepts or axes stop the program."""
    concepts = tuple(_concept(e) for e in entries(concepts_file, concepts_doc, "concepts"))
    by_id = {c.id: c for c in concepts}
    for concept in concepts:
        for name in concept.void_with:
            if name not in by_id:
                raise KnowledgeDataError(concepts_file, concept.id, f"void_with: unknown {name!r}")
    frames = tuple(_frame(e, by_id) for e in entries(frames_file, frames_doc, "frames"))
    patterns: tuple[PatternScope, ...] = ()
    if isinstance(frames_doc, dict) and frames_doc.get("patterns") is not None:
        patterns = tuple(_pattern(e, by_id) for e in entries(frames_file, frames_doc, "patterns"))
    signals = [p.signal for p in patterns]
    if len(set(signals)) != len(signals):
        raise KnowledgeDataError(frames_file, "patterns", "a signal is listed twice")
    used = {name for f in frames for need in (*f.all, *f.any) for name in need.concepts}
    used |= {name for f in frames for name in (*f.unless, *f.danger_now_with)}
    used |= {name for c in concepts for name in c.void_with}
    used |= {name for p in patterns for name in p.unless}
    unused = sorted(set(by_id) - used)
    if unused:
        raise KnowledgeDataError(concepts_file, "concepts", f"never used by a frame: {unused}")
    calls: dict[str, str] = {}
    raw_calls = frames_doc.get("calls") if isinstance(frames_doc, dict) else None
    if not isinstance(raw_calls, dict) or set(raw_calls) != set(KINDS):
        raise KnowledgeDataError(frames_file, "calls", f"needs one number for each of {KINDS}")
    for kind, number in raw_calls.items():
        if str(number) not in CALLS:
            raise KnowledgeDataError(frames_file, f"calls.{kind}", f"{number!r} is not 119 or 110")
        calls[str(kind)] = str(number)
    return RiskData(concepts, frames, patterns, calls)


def parse_english(
    document: object, concepts: Iterable[Concept], file: str
) -> dict[str, tuple[str, ...]]:
    """english.yaml: concept id → English terms; the ids must be concepts.yaml's."""
    known = {c.id for c in concepts}
    if not isinstance(document, dict) or not isinstance(document.get("concepts"), dict):
        raise KnowledgeDataError(file, "<file>", "needs a mapping 'concepts: {id: [terms]}'")
    out: dict[str, tuple[str, ...]] = {}
    for ident, terms in document["concepts"].items():
        if ident not in known:
            raise KnowledgeDataError(file, str(ident), "not a concept of concepts.yaml")
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise KnowledgeDataError(file, str(ident), "terms must be a list of strings")
        for term in terms:
            _, _, aspect = term.partition("@")
            if aspect and aspect not in ASPECTS:
                raise KnowledgeDataError(file, str(ident), f"{term!r}: unknown aspect {aspect!r}")
        out[str(ident)] = tuple(t.strip() for t in terms)
    return out


@cache
def load_english() -> dict[str, tuple[str, ...]]:
    """The English words of the packaged concepts (knowledge/data/risk/english.yaml)."""
    path = RISK_DIR / "english.yaml"
    return parse_english(read_yaml(path), load_risk().concepts, str(path))


def read_risk(directory: Path = RISK_DIR) -> RiskData:
    return parse_risk(
        read_yaml(directory / "concepts.yaml"),
        read_yaml(directory / "frames.yaml"),
        concepts_file=str(directory / "concepts.yaml"),
        frames_file=str(directory / "frames.yaml"),
    )


@cache
def load_risk() -> RiskData:
    """The packaged risk model, read once."""
    return read_risk()


def axes_of(frames: Iterable[Frame]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.axis for f in frames))
