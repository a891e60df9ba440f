"""`marugoto eval`: measure the triage on a labelled JSON-lines set.

The metrics are pure functions over (labelled item, prediction) pairs so they can be tested
on tiny hand-made sets; `run_eval` only reads the file, runs the engine and prints.

- top-1: the labelled primary is the first predicted window; top-3: it is among the first 3.
- per-window precision/recall: over window sets (every returned window vs. every accepted
  window of the item).
- crisis recall: items labelled `crisis` predicted `crisis`; false-crisis rate: items
  labelled otherwise predicted `crisis`.
- confusion pairs: (labelled primary, predicted first window) where they differ.
- for sets that label `risk` (the blind sets): crisis recall per frame and per risk kind,
  `danger_now` recall (labelled danger now → predicted crisis with danger now), and the
  share of `concern` items cleared to `normal` (a check-in lost).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from triage.analysis import Analysis

DEFAULT_SET = Path("tests") / "data" / "triage_set.jsonl"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Thresholds:
    top1: float = 0.92
    top3: float = 0.98
    crisis_recall: float = 1.0
    false_crisis: float = 0.03


THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class LabelledRisk:
    kind: str
    danger_now: bool
    frame: str


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    text: str
    windows: tuple[str, ...]
    primary: str
    urgency: str
    reporter: str
    risk: LabelledRisk | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    windows: tuple[str, ...]
    urgency: str
    reporter: str
    risk_kind: str | None = None
    danger_now: bool = False

    @classmethod
    def of(cls, analysis: Analysis) -> Prediction:
        risk = analysis.risk
        return cls(
            analysis.window_ids,
            analysis.urgency,
            analysis.reporter,
            risk.kind if risk is not None else None,
            risk.danger_now if risk is not None else False,
        )


Pair = tuple[Item, Prediction]


def top_k_accuracy(pairs: Sequence[Pair], k: int) -> float:
    if not pairs:
        return 0.0
    return sum(item.primary in pred.windows[:k] for item, pred in pairs) / len(pairs)


@dataclass(frozen=True, slots=True)
class WindowStats:
    true_positive: int
    predicted: int
    labelled: int

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.labelled if self.labelled else 1.0


def per_window(pairs: Sequence[Pair]) -> dict[str, WindowStats]:
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    for item, pred in pairs:
        gold = set(item.windows)
        for w in set(pred.windows):
            predicted[w] += 1
            tp[w] += w in gold
        for w in gold:
            labelled[w] += 1
    return {
        w: WindowStats(tp[w], predicted[w], labelled[w])
        for w in sorted(set(predicted) | set(labelled))
    }


def crisis_recall(pairs: Sequence[Pair]) -> float:
    crisis = [pred for item, pred in pairs if item.urgency == "crisis"]
    if not crisis:
        return 1.0
    return sum(p.urgency == "crisis" for p in crisis) / len(crisis)


def false_crisis_rate(pairs: Sequence[Pair]) -> float:
    others = [pred for item, pred in pairs if item.urgency != "crisis"]
    if not others:
        return 0.0
    return sum(p.urgency == "crisis" for p in others) / len(others)


def concern_cleared(pairs: Sequence[Pair]) -> float | None:
    """Share of `concern` items predicted `normal` (None when the set has no concern)."""
    concern = [pred for item, pred in pairs if item.urgency == "concern"]
    if not concern:
        return None
    return sum(p.urgency == "normal" for p in concern) / len(concern)


def danger_now_recall(pairs: Sequence[Pair]) -> float | None:
    """Labelled danger now → predicted crisis with danger now (None when none labelled)."""
    labelled = [p for item, p in pairs if item.risk is not None and item.risk.danger_now]
    if not labelled:
        return None
    return sum(p.urgency == "crisis" and p.danger_now for p in labelled) / len(labelled)


def crisis_recall_by(pairs: Sequence[Pair], key: str) -> dict[str, tuple[int, int]]:
    """(found, labelled) crisis items per labelled risk `frame` or `kind`."""
    totals: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for item, pred in pairs:
        if item.urgency != "crisis" or item.risk is None:
            continue
        name = getattr(item.risk, key)
        totals[name] += 1
        found[name] += pred.urgency == "crisis"
    return {name: (found[name], totals[name]) for name in sorted(totals)}


def reporter_accuracy(pairs: Sequence[Pair]) -> float:
    if not pairs:
        return 0.0
    return sum(item.reporter == pred.reporter for item, pred in pairs) / len(pairs)


def confusion_pairs(pairs: Sequence[Pair]) -> Counter[tuple[str, str]]:
    """(labelled primary, predicted first window) for every top-1 miss."""
    misses: Counter[tuple[str, str]] = Counter()
    for item, pred in pairs:
        first = pred.windows[0] if pred.windows else "-"
        if first != item.primary:
            misses[(item.primary, first)] += 1
    return misses


@dataclass(frozen=True, slots=True)
class Report:
    size: int
    top1: float
    top3: float
    crisis_recall: float
    false_crisis: float
    reporter_accuracy: float
    windows: dict[str, WindowStats]
    confusion: Counter[tuple[str, str]]
    misses: tuple[Pair, ...] = field(default=())
    concern_cleared: float | None = None
    danger_now_recall: float | None = None
    by_frame: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)

    def failures(self, t: Thresholds = THRESHOLDS) -> list[str]:
        out = []
        if self.top1 < t.top1:
            out.append(f"top-1 {self.top1:.3f} < {t.top1}")
        if self.top3 < t.top3:
            out.append(f"top-3 {self.top3:.3f} < {t.top3}")
        if self.crisis_recall < t.crisis_recall:
            out.append(f"crisis recall {self.crisis_recall:.3f} < {t.crisis_recall}")
        if self.false_crisis > t.false_crisis:
            out.append(f"false crisis {self.false_crisis:.3f} > {t.false_crisis}")
        return out


def report(pairs: Sequence[Pair]) -> Report:
    misses = tuple(
        (item, pred)
        for item, pred in pairs
        if item.primary not in pred.windows[:1]
        or (item.urgency == "crisis") != (pred.urgency == "crisis")
    )
    return Report(
        size=len(pairs),
        top1=top_k_accuracy(pairs, 1),
        top3=top_k_accuracy(pairs, 3),
        crisis_recall=crisis_recall(pairs),
        false_crisis=false_crisis_rate(pairs),
        reporter_accuracy=reporter_accuracy(pairs),
        windows=per_window(pairs),
        confusion=confusion_pairs(pairs),
        misses=misses,
        concern_cleared=concern_cleared(pairs),
        danger_now_recall=danger_now_recall(pairs),
        by_frame=crisis_recall_by(pairs, "frame"),
        by_kind=crisis_recall_by(pairs, "kind"),
    )


class DatasetError(ValueError):
    pass


def parse_items(lines: Iterable[str], name: str = "<set>") -> list[Item]:
    items: list[Item] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            windows = tuple(str(w) for w in raw["windows"])
            risk = raw.get("risk")
            item = Item(
                id=str(raw["id"]),
                text=str(raw["text"]),
                windows=windows,
                primary=str(raw.get("primary") or windows[0]),
                urgency=str(raw["urgency"]),
                reporter=str(raw.get("reporter", "unknown")),
                risk=LabelledRisk(str(risk["kind"]), bool(risk["danger_now"]), str(risk["frame"]))
                if risk
                else None,
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise DatasetError(f"{name}:{number}: {exc}") from exc
        items.append(item)
    return items


def load_items(path: Path) -> list[Item]:
    with path.open(encoding="utf-8") as handle:
        return parse_items(handle, str(path))


def evaluate(items: Sequence[Item], analyse: Callable[[str], Analysis]) -> Report:
    return report([(item, Prediction.of(analyse(item.text))) for item in items])


def resolve(file: str | None) -> Path:
    """The file as given, else relative to the repository root; default: the working set."""
    candidate = Path(file) if file else DEFAULT_SET
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return REPO_ROOT / candidate


def format_report(r: Report, t: Thresholds = THRESHOLDS, *, show_misses: int = 60) -> str:
    lines: list[str] = [
        f"items            {r.size}",
        f"top-1            {r.top1:.3f}  (threshold {t.top1})",
        f"top-3            {r.top3:.3f}  (threshold {t.top3})",
        f"crisis recall    {r.crisis_recall:.3f}  (threshold {t.crisis_recall})",
        f"false crisis     {r.false_crisis:.3f}  (threshold <= {t.false_crisis})",
        f"reporter acc.    {r.reporter_accuracy:.3f}",
    ]
    if r.concern_cleared is not None:
        lines.append(f"concern->normal  {r.concern_cleared:.3f}  (target <= 0.15 on unseen sets)")
    if r.danger_now_recall is not None:
        lines.append(f"danger_now       {r.danger_now_recall:.3f}  (target >= 0.90 on unseen sets)")
    for title, table in (("frame", r.by_frame), ("risk kind", r.by_kind)):
        if table:
            lines += ["", f"crisis recall by {title}:"]
            for name, (found, total) in table.items():
                lines.append(f"  {name:<18} {found / total:>6.3f}  ({found}/{total})")
    lines += [
        "",
        f"{'window':<20} {'precision':>9} {'recall':>7} {'pred':>5} {'gold':>5}",
    ]
    for w, s in r.windows.items():
        lines.append(
            f"{w:<20} {s.precision:>9.3f} {s.recall:>7.3f} {s.predicted:>5} {s.labelled:>5}"
        )
    lines += ["", "confusion pairs (labelled primary -> predicted first):"]
    for (gold, pred), n in r.confusion.most_common():
        lines.append(f"  {gold} -> {pred}: {n}")
    if r.misses and show_misses:
        lines += ["", "misses (id, labelled, predicted):"]
        for miss, predicted in r.misses[:show_misses]:
            lines.append(
                f"  {miss.id} {miss.primary}/{miss.urgency} -> "
                f"{','.join(predicted.windows) or '-'}/{predicted.urgency}  {miss.text[:60]}"
            )
    failures = r.failures(t)
    lines += ["", "PASS" if not failures else "FAIL: " + "; ".join(failures)]
    return "\n".join(lines) + "\n"


def run_eval(file: str | None, stdout: IO[str]) -> int:
    from triage.engine import default_engine

    path = resolve(file)
    try:
        items = load_items(path)
    except (OSError, DatasetError) as exc:
        stdout.write(f"cannot read the labelled set: {exc}\n")
        return 2
    engine = default_engine()
    r = evaluate(items, engine.analyse)
    stdout.write(f"set              {path}\n")
    # A blind set is measured, never read line by line: its misses stay unprinted.
    stdout.write(format_report(r, show_misses=0 if path.name.startswith("blind_") else 60))
    return 1 if r.failures() else 0
