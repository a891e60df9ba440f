"""The result of reading one message: the public shape every other layer relies on.

`Analysis.to_json()` is the contract printed by `marugoto triage` (one JSON line per input):
`{"windows": [{"id", "score"}, ...] (best first), "urgency", "risk", "reporter", "clarify",
"evidence"}`; `risk` is `{"kind", "danger_now", "frames"}` for a crisis and null otherwise, and
each evidence row names its `frame` (null for routing words).
Keep it stable: staff reports, the evaluation sets and the bot read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Urgency = Literal["crisis", "concern", "normal"]
RiskKind = Literal["self", "violence", "child", "elder", "welfare_check", "other_person"]
Reporter = Literal["self", "family", "third_party", "unknown"]

URGENCIES: tuple[Urgency, ...] = ("crisis", "concern", "normal")
REPORTERS: tuple[Reporter, ...] = ("self", "family", "third_party", "unknown")

#: The id returned for questions the welfare front door does not handle (ごみの出し方 …).
OUT_OF_SCOPE = "out_of_scope"
#: The id every vague or unmatched message falls back to.
GENERAL_DESK = "general_desk"


@dataclass(frozen=True, slots=True)
class WindowScore:
    """One window the message needs, with a score in [0, 1] (higher = surer)."""

    id: str
    score: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a window (or the crisis layer) fired: which lexicon term matched which text.

    `window` is a window id, or `"crisis"` / `"reporter"` for those layers.
    `via` says how it matched: `lemma`, `reading`, `surface`, `fuzzy` or `pattern`.
    """

    window: str
    term: str
    matched: str
    weight: float
    via: str
    #: For the risk layer: the frame (or the counsellor's axis) this evidence belongs to.
    frame: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "term": self.term,
            "matched": self.matched,
            "weight": round(self.weight, 3),
            "via": self.via,
            "frame": self.frame,
        }


@dataclass(frozen=True, slots=True)
class Risk:
    """What kind of risk a crisis is, whether someone is in danger right now, and the
    counsellor's axes that were found (passive_wish, method, act, violence_now …)."""

    kind: RiskKind
    danger_now: bool
    frames: tuple[str, ...]
    #: Whom to call first when danger is now ("119" or "110"); not part of the printed
    #: contract — the conversation uses it to put that number on the first line.
    call: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "danger_now": self.danger_now, "frames": list(self.frames)}


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the triage knows about one message."""

    windows: tuple[WindowScore, ...]
    urgency: Urgency
    reporter: Reporter
    clarify: bool
    evidence: tuple[Evidence, ...] = ()
    #: Crisis signals found (e.g. "suicidal", "self_harm", "violence_now"), even when a
    #: negation or idiom lowered the urgency: staff see that something was noticed.
    crisis_signals: tuple[str, ...] = field(default=())
    #: The risk when `urgency` is crisis (None otherwise).
    risk: Risk | None = None
    #: The language the message is written in (triage.language): "ja" or "en".
    lang: str = "ja"

    @property
    def primary(self) -> str:
        """The strongest window id (`general_desk` when nothing matched)."""
        return self.windows[0].id if self.windows else GENERAL_DESK

    @property
    def window_ids(self) -> tuple[str, ...]:
        return tuple(w.id for w in self.windows)

    def to_json(self) -> dict[str, Any]:
        return {
            "windows": [{"id": w.id, "score": round(w.score, 3)} for w in self.windows],
            "urgency": self.urgency,
            "risk": self.risk.to_json() if self.risk is not None else None,
            "reporter": self.reporter,
            "clarify": self.clarify,
            "evidence": [e.to_json() for e in self.evidence],
            "lang": self.lang,
        }
