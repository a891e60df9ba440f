"""Safety first: when the routing part cannot run, a crisis is still a crisis.

The routing engine is made to fail for real, through the supported `lexicon_dir` parameter:
a lexicon directory whose file does not validate (an unknown window id), and one with no
lexicon file at all. The crisis layer needs neither, so `analyse` must still answer.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import triage
from triage import analyse
from triage.analysis import GENERAL_DESK


@pytest.fixture
def broken_lexicon(tmp_path: Path) -> Path:
    directory = tmp_path / "lexicon"
    directory.mkdir()
    (directory / "broken.yaml").write_text(
        "window: no_such_window\ngroups:\n  - name: x\n    source: colloquial\n"
        "    weight: 0.5\n    terms: [家賃]\n",
        encoding="utf-8",
    )
    return directory


def test_a_crisis_is_detected_when_the_lexicon_does_not_load(
    broken_lexicon: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="triage"):
        result = analyse("死にたい", lexicon_dir=broken_lexicon)
    assert result.urgency == "crisis"
    assert result.window_ids == (GENERAL_DESK,)
    assert result.clarify is True
    assert "suicidal" in result.crisis_signals
    assert any(e.window == "crisis" for e in result.evidence)
    # Logged, once, naming the failure but never the message.
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "死にたい" not in errors[0].getMessage()
    assert "KnowledgeDataError" in errors[0].getMessage()


def test_the_failure_is_logged_once_and_every_message_still_answered(
    broken_lexicon: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="triage"):
        first = analyse("家賃が払えない", lexicon_dir=broken_lexicon)
        noisy = analyse("ｼﾆﾀｲ", lexicon_dir=broken_lexicon)
        routine = analyse("ごみの出し方を教えて", lexicon_dir=broken_lexicon)
    assert first.urgency == "normal" and first.primary == GENERAL_DESK
    assert noisy.urgency == "crisis"
    assert routine.urgency == "normal" and routine.clarify
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) <= 1


def test_an_empty_lexicon_directory_also_falls_back(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = analyse("もう消えたい。家賃も払えない", lexicon_dir=empty)
    assert result.urgency == "crisis"
    assert result.primary == GENERAL_DESK


def test_a_valid_lexicon_dir_routes_normally(tmp_path: Path) -> None:
    directory = tmp_path / "small"
    directory.mkdir()
    (directory / "rent.yaml").write_text(
        "window: housing_benefit\ngroups:\n  - name: rent\n    source: colloquial\n"
        "    weight: 0.8\n    terms: [家賃]\n",
        encoding="utf-8",
    )
    result = analyse("家賃が払えないし消えたい", lexicon_dir=directory)
    assert result.primary == "housing_benefit"
    assert result.urgency == "crisis"


def test_the_packaged_engine_is_unaffected_by_a_broken_directory(broken_lexicon: Path) -> None:
    analyse("死にたい", lexicon_dir=broken_lexicon)
    assert triage.analyse("家賃が払えない").primary == "housing_benefit"
