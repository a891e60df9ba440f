"""The learned second opinion: a small linear model over the words and the risk concepts.

The frames (triage/risk.py) say *why* a message is a risk; they catch what their concepts
were written for. Residents also write risk in combinations no frame names (a goodbye and a
one-way fare; tired, a date, and the key left in the post box). This model reads the same
features — Sudachi lemmas and lemma pairs, the concepts found and how they are conjugated,
the frames and how they were read — with weights learned from the labelled sets in
tests/data (never the frozen blind sets), and gives a probability that a counsellor would
treat the message as a crisis.

It can only raise the urgency, never lower it: at or above `crisis_at` a message is a
crisis; at or above `concern_at` it is a concern, so the conversation asks the direct
question and the resident's answer decides. Its evidence is the features that weighed most,
so staff still see why. Weights live in knowledge/data/risk/learned.json, written by
`python -m triage.training` (deterministic: the same sets give the same file, which a test
checks).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

from knowledge.risk import RISK_DIR
from triage.risk import Reading, canonical
from triage.tokens import Token

LEARNED_FILE = RISK_DIR / "learned.json"
#: The model speaks only when the words themselves push this far towards a crisis.
MIN_EVIDENCE = 1.0
#: Lemmas too common to say anything alone (they still count inside a pair).
_STOP = frozenset(
    [
        *(
            "だ",
            "た",
            "て",
            "に",
            "の",
            "と",
            "が",
            "を",
            "は",
            "も",
            "か",
            "な",
            "よ",
            "ね",
            "ない",
        ),
        # Social formulas end every kind of message: alone they never read as a goodbye.
        *("有り難う", "御座る", "宜しい", "御願い", "願う", "済みません", "失礼", "今日は", "御免"),
    ]
)


def features(tokens: Sequence[Token], reading: Reading) -> frozenset[str]:
    """The model's view of one message (also what `python -m triage.training` learns on)."""
    lemmas = [lemma for _, lemma in canonical(tokens)]
    out: set[str] = {f"w:{lemma}" for lemma in lemmas if lemma not in _STOP}
    out.update(f"b:{a}_{b}" for a, b in pairwise(lemmas))
    for hit in reading.hits:
        out.add(f"c:{hit.concept}")
        out.update(f"c:{hit.concept}@{aspect}" for aspect in hit.aspects)
    out.update(f"f:{frame.frame.id}:{frame.status}" for frame in reading.frames)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class LinearModel:
    bias: float
    weights: dict[str, float]

    def score(self, feats: Iterable[str]) -> float:
        z = self.bias + sum(self.weights.get(f, 0.0) for f in feats)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def evidence(self, feats: Iterable[str]) -> float:
        """How far the message's own words move the score (in logits): a short greeting has
        none, and the sets' share of crises (the bias) must never speak for it."""
        return sum(self.weights.get(f, 0.0) for f in feats)

    def strongest(self, feats: Iterable[str], n: int = 4) -> list[tuple[str, float]]:
        """The features that pushed this score up most (the evidence staff see)."""
        weighed = [(f, self.weights[f]) for f in feats if self.weights.get(f, 0.0) > 0]
        return sorted(weighed, key=lambda fw: -fw[1])[:n]


@dataclass(frozen=True, slots=True)
class Learned:
    crisis: LinearModel
    #: Among crises: is someone in danger right now (119/110 first)?
    danger_now: LinearModel
    crisis_at: float
    concern_at: float
    danger_at: float
    #: What it was trained on (file names and their SHA-256), for the reviewer.
    trained_on: dict[str, str]


def _model(raw: dict[str, object]) -> LinearModel:
    weights = raw.get("weights")
    bias = raw.get("bias")
    if not isinstance(weights, dict) or not isinstance(bias, int | float):
        raise ValueError("learned.json: a model needs 'bias' and 'weights'")
    return LinearModel(float(bias), {str(k): float(v) for k, v in weights.items()})


def read_learned(path: Path = LEARNED_FILE) -> Learned:
    raw = json.loads(path.read_text(encoding="utf-8"))
    thresholds = raw["thresholds"]
    crisis_at, concern_at = float(thresholds["crisis"]), float(thresholds["concern"])
    if not 0.0 < concern_at < crisis_at < 1.0:
        raise ValueError("learned.json: thresholds must satisfy 0 < concern < crisis < 1")
    return Learned(
        crisis=_model(raw["crisis"]),
        danger_now=_model(raw["danger_now"]),
        crisis_at=crisis_at,
        concern_at=concern_at,
        danger_at=float(thresholds["danger_now"]),
        trained_on={str(k): str(v) for k, v in raw.get("trained_on", {}).items()},
    )


@cache
def load_learned() -> Learned | None:
    """The packaged model, or None when there is none yet (the frames still answer)."""
    if not LEARNED_FILE.exists():
        return None
    return read_learned()
