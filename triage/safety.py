"""Safety: one reading of risk from the two layers that look for it.

- The spelling-noise layer (triage/crisis.py) reads the compact text with bounded patterns:
  ｼﾆﾀｲ, タヒ, 氏にたい, し に た い, and the direct phrases. It needs nothing else, so it keeps
  working when the dictionary does not (triage/fallback.py).
- The risk model (triage/risk.py) reads Sudachi lemmas for the frames counsellors listen for
  in words without 死: a plan, means, preparation, timing, an act, violence now, a welfare
  check, someone else at risk.

Both are read within the same scope rules (knowledge/data/risk/): a pattern inside a book
title or the news, or volunteering for prevention, does not make a crisis. The result keeps
`urgency` in its three values and adds `risk` (kind, danger now, frames) for a crisis.
Everything noticed is kept as evidence with its frame, also what was lowered or cancelled.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from triage import crisis
from triage.analysis import Evidence, Risk, RiskKind, Urgency
from triage.english import EnglishReader, is_english
from triage.learned import MIN_EVIDENCE, Learned, features
from triage.normalise import Normalised
from triage.risk import ConceptHit, FrameHit, Reading, RiskModel, aspects_within
from triage.tokens import Token

#: Which kind leads when several are found: the one whose first line (189, 110) must come
#: first; danger now always leads (see `_lead`).
KIND_ORDER: tuple[RiskKind, ...] = (
    "child",
    "elder",
    "violence",
    "welfare_check",
    "other_person",
    "self",
)
_SIGNAL_KIND: dict[str, RiskKind] = {
    crisis.SUICIDAL: "self",
    crisis.SELF_HARM: "self",
    crisis.OVERDOSE: "self",
    crisis.VIOLENCE_NOW: "violence",
    crisis.OTHER_IN_DANGER: "other_person",
}


@dataclass(frozen=True, slots=True)
class Safety:
    urgency: Urgency
    risk: Risk | None
    signals: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    #: A concern read from the writer's own words (私のせい, 押しつぶされそう): whoever else the
    #: message is about, the heavy heart is the writer's (the direct question asks them).
    own_distress: bool = False


@dataclass(frozen=True, slots=True)
class _Found:
    axis: str
    kind: RiskKind
    danger_now: bool
    #: `crisis`, `concern` or None (read as about something else).
    level: str | None
    #: The frame's own number to call first, if it names one.
    call: str | None = None


def assess(
    norm: Normalised,
    tokens: Sequence[Token] | None = None,
    model: RiskModel | None = None,
    learned: Learned | None = None,
    english: EnglishReader | None = None,
) -> Safety:
    """Read one message for risk. Without tokens or a model, the pattern layer alone; the
    learned second opinion, when given, can raise the urgency (never lower it). A message in
    English is read by the English words of the same concepts (triage/english.py)."""
    patterns = crisis.check(norm)
    reading: Reading | None = None
    in_english = english is not None and is_english(norm.clean)
    if in_english and english is not None:
        reading = english.read(norm.clean)
        # The frames read the English words with their negations; the pattern layer's
        # English phrases (kept for when no reader is loaded) would count them twice.
        patterns = _without_english_patterns(patterns)
    elif model is not None and tokens is not None:
        reading = model.read(tokens, norm.clean)
    found: list[_Found] = []
    evidence: list[Evidence] = []
    signals: list[str] = list(patterns.signals)
    for hit in patterns.hits:
        item, row = _pattern_found(hit, norm, None if in_english else tokens, model, reading)
        found.append(item)
        evidence.append(row)
    if reading is not None:
        for frame_hit in reading.frames:
            found.append(_frame_found(frame_hit))
            evidence.extend(_frame_evidence(frame_hit))
            signals.append(f"frame:{frame_hit.frame.id}:{frame_hit.status}")
    # The pattern layer's own rows for idioms and distress (no frame of their own).
    evidence.extend(e for e in patterns.evidence if e.term in ("idiom", "distress"))
    if learned is not None and reading is not None and tokens is not None:
        second = _second_opinion(learned, tokens, reading, found)
        if second is not None:
            item, row = second
            found.append(item)
            evidence.append(row)
            signals.append(f"learned:{item.level}")
    crisis_found = [f for f in found if f.level == "crisis"]
    urgency: Urgency
    if crisis_found:
        urgency = "crisis"
    elif any(f.level == "concern" for f in found) or patterns.distress:
        urgency = "concern"
    else:
        urgency = "normal"
    calls = model.data.calls if model is not None else {}
    risk = _risk(crisis_found, calls) if crisis_found else None
    if urgency == "concern":
        # A suspected (not ongoing) safeguarding worry keeps its kind, so the conversation
        # gives 189 or the 地域包括支援センター rather than asking the writer about dying.
        others = [f for f in found if f.level == "concern" and f.kind != "self"]
        if others:
            risk = _risk(others, calls)
    own = (
        urgency == "concern"
        and risk is None
        and reading is not None
        and any(
            h.status == "active" and h.kind == "self" and h.level == "concern"
            for h in reading.frames
        )
    )
    return Safety(urgency, risk, tuple(dict.fromkeys(signals)), tuple(evidence), own)


_ENGLISH_LABELS = frozenset({"english", "english violence", "english other"})


def _without_english_patterns(result: crisis.CrisisResult) -> crisis.CrisisResult:
    hits = tuple(h for h in result.hits if h.label not in _ENGLISH_LABELS)
    evidence = tuple(e for e in result.evidence if e.term.split("(")[0] not in _ENGLISH_LABELS)
    active = {h.signal for h in hits if h.status == "active"}
    signals = tuple(
        s for s in result.signals if ":" in s or s in active or s in ("idiom", "distress")
    )
    urgency: Urgency = "normal"
    if active:
        urgency = "crisis"
    elif hits or result.distress:
        urgency = "concern"
    return crisis.CrisisResult(urgency, signals, evidence, hits, result.distress)


#: Roles of concepts that carry risk (knowledge/risk.py ROLES); the model weighs their
#: combinations, it never raises a message that has none of them.
_RISK_ROLES = frozenset(
    {"ideation", "passive", "burden", "means", "method", "act", "harm", "state"}
)


def reading_role(reading: Reading, concept: str) -> str:
    return reading.roles.get(concept, "")


def _second_opinion(
    learned: Learned, tokens: Sequence[Token], reading: Reading, found: Sequence[_Found]
) -> tuple[_Found, Evidence] | None:
    """The model's reading when it is more worried than the frames and patterns were: a
    higher level, or — for a crisis the frames read without danger now — danger now."""
    crisis_found = [f for f in found if f.level == "crisis"]
    if any(f.danger_now for f in crisis_found):
        return None

    if not any(_is_japanese(t.surface) for t in tokens):
        return None  # learned on Japanese: an English message is read by the patterns alone
    feats = features(tokens, reading)
    if learned.crisis.evidence(feats) < MIN_EVIDENCE:
        return None
    if not reading.frames and not any(
        reading_role(reading, h.concept) in _RISK_ROLES and "lifetime" not in h.aspects
        for h in reading.hits
    ):
        # No word of risk at all: a thank-you is not a goodbye, and 死ぬまでこの家で is a
        # lifetime, not a death.
        return None
    if crisis_found:
        # A crisis is read already; the model may only add that it is happening now.
        if learned.danger_now.score(feats) < learned.danger_at:
            return None
        first = min(crisis_found, key=lambda f: KIND_ORDER.index(f.kind))
        why = ", ".join(name.split(":", 1)[1] for name, _ in learned.danger_now.strongest(feats))
        row = Evidence("crisis", f"learned(danger_now): {why}", why, 1.0, "learned", "learned")
        return _Found("learned", first.kind, True, "crisis"), row
    p = learned.crisis.score(feats)
    if p >= learned.crisis_at:
        level = "crisis"
    elif p >= learned.concern_at:
        level = "concern"
    else:
        return None
    # Whose risk: the strongest kind any frame noticed, even one read as lowered.
    kinds = [f.kind for f in found] or ["self"]
    kind = min(kinds, key=KIND_ORDER.index)
    danger = level == "crisis" and learned.danger_now.score(feats) >= learned.danger_at
    why = ", ".join(name.split(":", 1)[1] for name, _ in learned.crisis.strongest(feats))
    row = Evidence("crisis", f"learned({level}): {why}", why, round(p, 3), "learned", "learned")
    return _Found("learned", kind, danger, level), row


def _is_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


#: Whom to call first when only the pattern layer ran (no knowledge data loaded).
_DEFAULT_CALLS = {"violence": "110", "child": "110", "elder": "110", "welfare_check": "110"}


def _risk(found: Sequence[_Found], calls: dict[str, str]) -> Risk:
    ranked = sorted(found, key=lambda f: (not f.danger_now, KIND_ORDER.index(f.kind)))
    danger = any(f.danger_now for f in found)
    call = None
    if danger:
        first = next(f for f in ranked if f.danger_now)
        call = first.call or calls.get(first.kind) or _DEFAULT_CALLS.get(first.kind, "119")
    return Risk(
        kind=ranked[0].kind,
        danger_now=danger,
        frames=tuple(dict.fromkeys(f.axis for f in ranked)),
        call=call,
    )


def _frame_found(hit: FrameHit) -> _Found:
    kind: RiskKind = hit.kind  # type: ignore[assignment]  # validated against KINDS on load
    return _Found(hit.frame.axis, kind, hit.danger_now, hit.level, hit.frame.call)


def _frame_evidence(hit: FrameHit) -> list[Evidence]:
    weight = {"active": 1.0, "negated": 0.5, "lowered": 0.5}.get(hit.status, 0.0)
    label = hit.frame.id if hit.status == "active" else f"{hit.frame.id}({hit.status})"
    if hit.by:
        label += f"[{hit.by}]"
    return [
        Evidence("crisis", f"{label}:{h.concept}", h.matched, weight, "frame", hit.frame.id)
        for h in hit.hits
    ]


def _pattern_found(
    hit: crisis.PatternHit,
    norm: Normalised,
    tokens: Sequence[Token] | None,
    model: RiskModel | None,
    reading: Reading | None,
) -> tuple[_Found, Evidence]:
    kind: RiskKind = _SIGNAL_KIND[hit.signal]
    status = hit.status
    by: str | None = None
    if reading is not None and model is not None and tokens:
        scope = model.data.pattern(hit.signal)
        span = _as_concept_hit(hit, norm, tokens, reading)
        if scope is not None:
            kind = scope.kind  # type: ignore[assignment]  # validated against KINDS on load
            if status == "active" and span is not None:
                status, by = model.scope(scope.unless, (span,), reading, span.sentence)
        if span is not None and kind == "self":
            kind = model.attribute(kind, (span,), reading, tokens)  # type: ignore[assignment]
        if status == "active" and span is not None:
            # The lemma view sees denials the patterns cannot (死にたいとかは全然ないです) and
            # a wish the writer puts in the past (死にたいって思ってた時期も).
            if span.aspects & {"negated", "past_thought"}:
                status = "negated"
            elif (
                kind == "other_person"
                and hit.signal == crisis.SUICIDAL
                and "done" in span.aspects
                and "desire" not in span.aspects
            ):
                status = "bereaved"  # 親友が自分で命を絶った
    level = {
        "active": "crisis",
        "negated": "concern",
        "ambiguous": "concern",
        "past": "concern",
        "bereaved": "concern",
        "lowered": "concern",
    }.get(status)
    term = hit.label if status == "active" else f"{hit.label}({status})"
    if by:
        term += f"[{by}]"
    weight = 1.0 if status == "active" else 0.5 if level else 0.0
    row = Evidence("crisis", term, hit.matched, weight, "pattern", hit.axis)
    danger = hit.danger_now and status == "active"
    return _Found(hit.axis, kind, danger, level), row


def _as_concept_hit(
    hit: crisis.PatternHit, norm: Normalised, tokens: Sequence[Token], reading: Reading
) -> ConceptHit | None:
    """The pattern's place among the tokens, so the same scope rules can read it."""
    offsets = norm.compact_offsets
    if not offsets or hit.end <= hit.start or hit.end > len(offsets):
        return None
    start_char, end_char = offsets[hit.start], offsets[hit.end - 1] + 1
    starts = [t.start for t in tokens]
    first = max(0, bisect_right(starts, start_char) - 1)
    last = max(first, bisect_right(starts, end_char - 1) - 1)
    return ConceptHit(
        concept=f"pattern:{hit.label}",
        term=hit.label,
        matched=hit.matched,
        start=first,
        end=last + 1,
        sentence=reading.sentences[first] if reading.sentences else 0,
        aspects=aspects_within(tokens, first, last + 1),
        quoted=bool(reading.quoted) and reading.quoted[first],
    )
