"""The evaluation metrics are pure functions: pinned on tiny hand-made sets."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from triage.evaluation import (
    DatasetError,
    Item,
    Prediction,
    Thresholds,
    confusion_pairs,
    crisis_recall,
    false_crisis_rate,
    format_report,
    parse_items,
    per_window,
    report,
    reporter_accuracy,
    resolve,
    run_eval,
    top_k_accuracy,
)


def item(primary: str, *more: str, urgency: str = "normal", reporter: str = "self") -> Item:
    return Item("x", "text", (primary, *more), primary, urgency, reporter)


def pred(*windows: str, urgency: str = "normal", reporter: str = "self") -> Prediction:
    return Prediction(tuple(windows), urgency, reporter)


PAIRS = [
    (item("housing_benefit", "self_reliance"), pred("housing_benefit", "self_reliance")),
    (item("elderly_care"), pred("general_desk", "disability", "elderly_care")),
    (item("consumer"), pred("women", "general_desk", "volunteer", "consumer")),
    (item("general_desk", urgency="crisis"), pred("general_desk", urgency="crisis")),
    (item("education", urgency="crisis", reporter="family"), pred("education", urgency="concern")),
    (item("out_of_scope"), pred("out_of_scope", urgency="crisis", reporter="unknown")),
]


def test_top_k() -> None:
    assert top_k_accuracy(PAIRS, 1) == pytest.approx(4 / 6)
    assert top_k_accuracy(PAIRS, 3) == pytest.approx(5 / 6)
    assert top_k_accuracy(PAIRS, 4) == pytest.approx(6 / 6)
    assert top_k_accuracy([], 1) == 0.0


def test_top_k_with_no_prediction_is_a_miss() -> None:
    assert top_k_accuracy([(item("women"), pred())], 3) == 0.0


def test_crisis_recall_and_false_crisis() -> None:
    assert crisis_recall(PAIRS) == pytest.approx(1 / 2)
    assert false_crisis_rate(PAIRS) == pytest.approx(1 / 4)
    assert crisis_recall([(item("women"), pred("women"))]) == 1.0  # nothing to recall
    assert false_crisis_rate([]) == 0.0


def test_per_window_precision_and_recall_over_window_sets() -> None:
    stats = per_window(PAIRS)
    general = stats["general_desk"]
    # predicted 3 times (items 2, 3, 4), correct once (item 4), labelled once
    assert (general.true_positive, general.predicted, general.labelled) == (1, 3, 1)
    assert general.precision == pytest.approx(1 / 3)
    assert general.recall == 1.0
    assert stats["self_reliance"].precision == 1.0
    assert stats["women"].recall == 1.0  # never labelled
    assert stats["women"].precision == 0.0


def test_reporter_accuracy() -> None:
    assert reporter_accuracy(PAIRS) == pytest.approx(4 / 6)


def test_confusion_pairs_count_top1_misses() -> None:
    assert confusion_pairs(PAIRS) == {("elderly_care", "general_desk"): 1, ("consumer", "women"): 1}
    assert confusion_pairs([(item("women"), pred())]) == {("women", "-"): 1}


def test_thresholds_decide_pass_or_fail() -> None:
    perfect = report([(item("women"), pred("women"))])
    assert perfect.failures() == []
    r = report(PAIRS)
    failures = r.failures(Thresholds())
    assert len(failures) == 4
    assert any("crisis recall" in f for f in failures)
    assert report(PAIRS).failures(Thresholds(0.5, 0.8, 0.5, 0.3)) == []
    assert "FAIL" in format_report(r) and "PASS" in format_report(perfect)


def test_parse_items_reads_and_rejects() -> None:
    lines = [
        '{"id": "a", "text": "家賃", "windows": ["housing_benefit"], "primary": "housing_benefit",'
        ' "urgency": "normal", "reporter": "self"}',
        "",
    ]
    (only,) = parse_items(lines)
    assert only.primary == "housing_benefit"
    with pytest.raises(DatasetError, match="set:1"):
        parse_items(['{"id": "a"}'], "set")
    with pytest.raises(DatasetError):
        parse_items(["not json"])


def test_resolve_defaults_to_the_working_set() -> None:
    assert resolve(None).name == "triage_set.jsonl"
    assert resolve("/abs/file.jsonl") == Path("/abs/file.jsonl")


def test_run_eval_on_a_tiny_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jsonl"
    path.write_text(
        '{"id": "a", "text": "家賃が払えません", "windows": ["housing_benefit"],'
        ' "primary": "housing_benefit", "urgency": "normal", "reporter": "self"}\n'
        '{"id": "b", "text": "もう死にたい", "windows": ["general_desk"],'
        ' "primary": "general_desk", "urgency": "crisis", "reporter": "self"}\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    assert run_eval(str(path), out) == 0
    assert "top-1            1.000" in out.getvalue()
    missing = io.StringIO()
    assert run_eval(str(tmp_path / "missing.jsonl"), missing) == 2
