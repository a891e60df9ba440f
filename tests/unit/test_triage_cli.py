"""`marugoto triage` and `marugoto eval` as a user runs them (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".venv" / "bin" / "marugoto"


def marugoto(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # The console script when installed (scripts/bootstrap), else the same entry point.
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_json_lines_in_json_lines_out() -> None:
    lines = [
        {"id": 1, "text": "家賃が払えなくて、もう消えたい"},
        {"id": "b", "text": "粗大ごみの出し方"},
        {"id": None, "text": "ｼﾆﾀｲ"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    done = marugoto("triage", stdin=stdin)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, "b", None]
    assert list(out[0]) == [
        "id",
        "windows",
        "urgency",
        "risk",
        "reporter",
        "clarify",
        "evidence",
        "lang",
    ]
    assert out[0]["urgency"] == "crisis"
    assert out[0]["windows"][0]["id"] == "housing_benefit"
    assert out[1]["windows"][0]["id"] == "out_of_scope"
    assert out[2]["urgency"] == "crisis"


def test_bad_lines_are_reported_and_the_run_goes_on() -> None:
    stdin = 'not json\n{"id": 2}\n["x"]\n{"id": 3, "text": "介護の相談"}\n'
    done = marugoto("triage", stdin=stdin)
    assert done.returncode == 1
    assert [json.loads(x)["id"] for x in done.stdout.splitlines()] == [3]
    errors = done.stderr.splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 1", "line 2", "line 3"]
    assert "介護" not in done.stderr  # message text never goes to the error stream


def test_one_message_is_printed_readably() -> None:
    done = marugoto("triage", "母が認知症で介護が大変です")
    assert done.returncode == 0, done.stderr
    assert "\n  " in done.stdout and "認知症" in done.stdout  # indented, not ASCII-escaped
    assert json.loads(done.stdout)["windows"][0]["id"] == "elderly_care"


def test_eval_prints_the_metrics_and_fails_below_the_bar(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "text": "家賃が払えない", "windows": ["women"], "primary": "women",'
        ' "urgency": "crisis", "reporter": "self"}\n',
        encoding="utf-8",
    )
    done = marugoto("eval", str(bad))
    assert done.returncode == 1
    for needle in ("top-1", "top-3", "crisis recall", "false crisis", "precision", "confusion"):
        assert needle in done.stdout
    assert "women -> housing_benefit" in done.stdout
