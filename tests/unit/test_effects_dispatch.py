"""Effects are dispatched by type: every member of the closed `Effect` union has its case in
bot.actions.effects, and mypy refuses a dispatch that forgets one (so a consent record can
never be dropped with only a log line)."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

from mypy import api as mypy_api

from bot.conversation.effects import Effect

ROOT = Path(__file__).resolve().parents[2]
DISPATCH = ROOT / "bot" / "actions" / "effects.py"


def _case_classes(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.MatchClass) and isinstance(node.cls, ast.Name):
            names.add(node.cls.id)
    return names


def test_every_effect_has_a_case() -> None:
    members = {cls.__name__ for cls in typing.get_args(Effect)}
    assert len(members) >= 10
    assert _case_classes(DISPATCH.read_text(encoding="utf-8")) == members


def test_mypy_refuses_a_dispatch_that_forgets_an_effect(tmp_path: Path) -> None:
    members = [cls.__name__ for cls in typing.get_args(Effect)]
    cases = "\n".join(f"        case {name}():\n            return 1" for name in members[1:])

    def module(body: str) -> str:
        return (
            "from typing import assert_never\n"
            f"from bot.conversation.effects import Effect, {', '.join(members)}\n\n\n"
            "def dispatch(effect: Effect) -> int:\n"
            "    match effect:\n"
            f"{body}\n"
            "        case _:\n"
            "            assert_never(effect)\n"
        )

    complete = tmp_path / "complete.py"
    complete.write_text(module(f"        case {members[0]}():\n            return 0\n{cases}"))
    forgetful = tmp_path / "forgetful.py"
    forgetful.write_text(module(cases))
    args = ["--strict", "--no-incremental", "--follow-imports=silent", "--cache-dir=/dev/null"]
    out, _, status = mypy_api.run([*args, str(complete)])
    assert status == 0, out
    out, _, status = mypy_api.run([*args, str(forgetful)])
    assert status == 1
    assert "assert_never" in out and members[0] in out
