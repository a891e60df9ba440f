"""The triage on the labelled sets: the issue's thresholds, run by the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.engine import default_engine
from triage.evaluation import THRESHOLDS, evaluate, format_report, load_items

DATA = Path(__file__).resolve().parents[1] / "data"


def test_working_set_passes_the_thresholds() -> None:
    path = DATA / "triage_set.jsonl"
    if not path.exists():
        pytest.skip("tests/data/triage_set.jsonl is not written yet")
    result = evaluate(load_items(path), default_engine().analyse)
    assert result.failures(THRESHOLDS) == [], format_report(result)
    assert result.size >= 400


def test_holdout_never_misses_a_crisis() -> None:
    path = DATA / "holdout.jsonl"
    if not path.exists():
        pytest.skip("tests/data/holdout.jsonl is not there")
    result = evaluate(load_items(path), default_engine().analyse)
    print(format_report(result, show_misses=0))  # the other figures are reported, not gated
    assert result.crisis_recall == 1.0, format_report(result)
    assert result.false_crisis <= THRESHOLDS.false_crisis, format_report(result)
