"""The README works for someone who has only the clone: no pointer outside it, every script,
bench and `marugoto` command it shows exists, every setting it lists is read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_nothing_points_outside_the_clone() -> None:
    assert "../shared" not in README and "/work/" not in README


def test_every_script_it_names_is_there_and_runnable() -> None:
    scripts = set(re.findall(r"(?<![\w/])(scripts/[a-z]+|\.ci/run)\b", README))
    assert {"scripts/demo", "scripts/test", ".ci/run"} <= scripts
    for script in scripts:
        assert os.access(ROOT / script, os.X_OK), script


def test_every_bench_it_names_is_there() -> None:
    paths = set(re.findall(r"python (bench/[a-z_]+\.py)", README))
    modules = set(re.findall(r"python -m (bench\.[a-z_]+)", README))
    assert paths | modules
    for path in paths:
        assert (ROOT / path).is_file(), path
    for module in modules:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_every_setting_in_the_table_is_read() -> None:
    table = README.split("## Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert "PORT" in names
    read = {
        alias
        for field in Settings.model_fields.values()
        for alias in re.findall(r"[A-Z][A-Z0-9_]+", str(field.validation_alias))
    }
    demo = (ROOT / "scripts" / "demo").read_text(encoding="utf-8")
    for name in names:
        assert name in read or f"${{{name}" in demo, name


def _marugoto_commands() -> list[tuple[str, ...]]:
    """The subcommands after each `.venv/bin/marugoto` (`admin create-user`, `eval` …)."""
    found: set[tuple[str, ...]] = set()
    for rest in re.findall(r"\.venv/bin/marugoto ([^\n`|]*)", README):
        words: list[str] = []
        for word in rest.split():
            if not re.fullmatch(r"[a-z][a-z-]*", word) or len(words) == 2:
                break
            words.append(word)
        if words:
            found.add(tuple(words))
    return sorted(found)


@pytest.mark.parametrize("words", _marugoto_commands(), ids=" ".join)
def test_every_marugoto_command_it_shows_exists(words: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *words, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
