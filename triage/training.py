"""Train the learned second opinion (triage/learned.py) from the labelled tuning sets.

    .venv/bin/python -m triage.training            # writes knowledge/data/risk/learned.json
    .venv/bin/python -m triage.training --check    # exits 1 if the file is not what it gives

Trained on the tuning sets of tests/data (TRAINING_SETS) — never on a frozen blind set,
which is what measures it — with plain logistic regression (no dependency, deterministic:
features in sorted order, a fixed shuffle). The thresholds are chosen by 5-fold
cross-validation on the same sets, together with the frames, so that the combination keeps
false crises rare: `crisis` is the lowest threshold at which the model adds at most
`MAX_FALSE_CRISIS` cross-validated false crises to the frames' own; `concern` the lowest
that raises at most `MAX_RAISED_TO_CONCERN` of the ordinary messages to a check-in.

Re-run after any change to the concepts or frames (the features include them); the suite
checks the committed file against a fresh run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from triage.learned import LEARNED_FILE, features

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
#: The sets the model learns from. The holdout and the blind_* sets stay out: they measure.
TRAINING_SETS = (
    "triage_set.jsonl",
    "dev_safety.jsonl",
    "dev2_youth.jsonl",
    "dev2_older.jsonl",
    "dev2_reporters.jsonl",
    "dev3_adults.jsonl",
    "dev3_plain.jsonl",
    "dev3_negatives.jsonl",
    "dev4_quiet.jsonl",
    "dev4_everyday.jsonl",
    "dev4_safeguard.jsonl",
    "dev5_passive.jsonl",
    "dev5_safeguard.jsonl",
    "dev7_safety.jsonl",
    "dev8_quiet.jsonl",
    "dev8_everyday.jsonl",
    "chat_normal.jsonl",
)
EPOCHS = 30
RATE = 0.1
L2 = 1e-3
MIN_COUNT = 2
FOLDS = 5
MAX_FALSE_CRISIS = 0.02
MAX_RAISED_TO_CONCERN = 0.03
_GRID = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  # 0.30 … 0.95


@dataclass(frozen=True, slots=True)
class Example:
    feats: tuple[str, ...]
    crisis: bool
    danger_now: bool | None
    rules_crisis: bool
    rules_level: str


def examples(files: Sequence[str] = TRAINING_SETS) -> list[Example]:
    from triage import safety
    from triage.engine import default_engine
    from triage.normalise import normalise

    engine = default_engine()
    out: list[Example] = []
    for name in files:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            norm = normalise(item["text"])
            tokens = engine.tokenizer.tokens(norm.clean)
            reading = engine.risk.read(tokens, norm.clean)
            # The frames' and patterns' own verdict, without the model being trained.
            rules = safety.assess(norm, tokens, engine.risk, learned=None)
            risk = item.get("risk") or {}
            out.append(
                Example(
                    feats=tuple(sorted(features(tokens, reading))),
                    crisis=item["urgency"] == "crisis",
                    danger_now=risk.get("danger_now") if risk else None,
                    rules_crisis=rules.urgency == "crisis",
                    rules_level=rules.urgency,
                )
            )
    return out


def train(
    data: Sequence[tuple[Sequence[str], bool]], epochs: int = EPOCHS
) -> tuple[float, dict[str, float]]:
    counts = Counter(f for feats, _ in data for f in feats)
    vocab = {f for f, c in counts.items() if c >= MIN_COUNT}
    weights: dict[str, float] = {}
    bias = 0.0
    order = list(range(len(data)))
    for epoch in range(epochs):
        random.Random(epoch).shuffle(order)  # noqa: S311 (a reproducible shuffle)
        for i in order:
            feats, label = data[i]
            kept = [f for f in feats if f in vocab]
            z = bias + sum(weights.get(f, 0.0) for f in kept)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            grad = p - (1.0 if label else 0.0)
            bias -= RATE * grad
            for f in kept:
                w = weights.get(f, 0.0)
                weights[f] = w - RATE * (grad + L2 * w)
    return bias, weights


def _score(bias: float, weights: dict[str, float], feats: Sequence[str]) -> float:
    z = bias + sum(weights.get(f, 0.0) for f in feats)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def cross_validated(exs: Sequence[Example]) -> list[float]:
    order = list(range(len(exs)))
    random.Random(1).shuffle(order)  # noqa: S311 (a reproducible split)
    scores = [0.0] * len(exs)
    for fold in range(FOLDS):
        held = set(order[fold::FOLDS])
        bias, weights = train([(e.feats, e.crisis) for i, e in enumerate(exs) if i not in held])
        for i in held:
            scores[i] = _score(bias, weights, exs[i].feats)
    return scores


def choose_thresholds(exs: Sequence[Example], scores: Sequence[float]) -> tuple[float, float]:
    others = [(e, s) for e, s in zip(exs, scores, strict=True) if not e.crisis]
    crisis_at = _GRID[-1]
    for t in _GRID:
        # The false crises the model adds to the frames' own (those are the frames' to fix).
        added = sum(1 for e, s in others if not e.rules_crisis and s >= t) / max(1, len(others))
        if added <= MAX_FALSE_CRISIS:
            crisis_at = t
            break
    normal = [(e, s) for e, s in others if e.rules_level == "normal"]
    concern_at = crisis_at
    for t in _GRID:
        if t >= crisis_at:
            break
        raised = sum(1 for _, s in normal if s >= t) / max(1, len(normal))
        if raised <= MAX_RAISED_TO_CONCERN:
            concern_at = t
            break
    if concern_at >= crisis_at:
        concern_at = round(crisis_at - 0.05, 2)
    return crisis_at, concern_at


def _rounded(bias: float, weights: dict[str, float]) -> dict[str, object]:
    kept = {f: round(w, 4) for f, w in sorted(weights.items()) if abs(w) >= 0.005}
    return {"bias": round(bias, 4), "weights": kept}


def build() -> dict[str, object]:
    exs = examples()
    scores = cross_validated(exs)
    crisis_at, concern_at = choose_thresholds(exs, scores)
    bias, weights = train([(e.feats, e.crisis) for e in exs])
    danger = [(e.feats, bool(e.danger_now)) for e in exs if e.crisis and e.danger_now is not None]
    d_bias, d_weights = train(danger)
    return {
        "about": "written by python -m triage.training; see triage/learned.py",
        "trained_on": {
            name: hashlib.sha256((DATA / name).read_bytes()).hexdigest() for name in TRAINING_SETS
        },
        "thresholds": {"crisis": crisis_at, "concern": concern_at, "danger_now": 0.5},
        "crisis": _rounded(bias, weights),
        "danger_now": _rounded(d_bias, d_weights),
    }


def render(model: dict[str, object]) -> str:
    return json.dumps(model, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        same = LEARNED_FILE.exists() and LEARNED_FILE.read_text(encoding="utf-8") == text
        print("learned.json is current" if same else "learned.json differs: re-run training")
        return 0 if same else 1
    LEARNED_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {LEARNED_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
