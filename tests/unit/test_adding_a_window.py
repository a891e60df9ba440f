"""Adding a window is one data file plus its lexicon: a copy of knowledge/ with a new entry
in windows.yaml and a new knowledge/lexicon file is routed to, shown as a card and listed
for staff, with no other edit (ids are derived from the data everywhere)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WINDOW = """
  - id: food_bank
    name: テスト用 フードバンク窓口
    short_name: フードバンク
    kind: other
    purpose: 食べ物に困っている人に、食品を分ける窓口です（テスト用の架空の窓口）。
    for_whom: 食べ物に困っている人
    ask_at: general_desk
    bookable: false
    sources: ["002:192-198"]
"""
LEXICON = """\
window: food_bank
groups:
  - name: food
    source: colloquial
    weight: 0.9
    terms: [フードバンク, 食料支援]
"""
PROBE = textwrap.dedent(
    """
    import json
    from datetime import UTC, datetime

    import knowledge
    import triage
    from admin.labels import window_names
    from bot.conversation import Context, State, events, step_strict
    from knowledge.windows import WINDOW_IDS

    analysis = triage.analyse("フードバンクで食べ物をもらえますか")
    now = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    answer = step_strict(State(), events.Text("フードバンクを使いたい"), Context(now=now))
    print(json.dumps({
        "package": knowledge.__file__,
        "ids": list(WINDOW_IDS),
        "primary": analysis.primary,
        "cards": [r.get("altText", "") for r in answer.replies],
        "staff": window_names().get("food_bank"),
    }, ensure_ascii=False))
    """
)


def test_a_new_window_needs_only_its_entry_and_its_lexicon(tmp_path: Path) -> None:
    copy = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", copy, ignore=shutil.ignore_patterns("__pycache__"))
    windows = copy / "data" / "windows.yaml"
    windows.write_text(windows.read_text(encoding="utf-8") + WINDOW, encoding="utf-8")
    (copy / "lexicon" / "food_bank.yaml").write_text(LEXICON, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,  # the copy of knowledge/ comes first on the path
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["package"].startswith(str(copy))
    assert seen["ids"][-1] == "food_bank" and "general_desk" in seen["ids"]
    assert seen["primary"] == "food_bank"
    assert any("フードバンク" in alt for alt in seen["cards"])
    assert seen["staff"] == "フードバンク"
