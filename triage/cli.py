"""`marugoto triage`: JSON lines in, one JSON line out per message (or one message, readably).

Input lines: `{"id": ..., "text": ...}`. Output lines: `{"id", **Analysis.to_json()}`.
A line that is not such an object gets an error on stderr (with its line number, never its
text) and the run continues; the exit status is then 1.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from triage.engine import default_engine


def _parse(line: str) -> tuple[Any, str]:
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("a line must be a JSON object")
    text = obj.get("text")
    if not isinstance(text, str):
        raise ValueError('the object needs a string "text"')
    return obj.get("id"), text


def run_triage(
    text: str | None, stdin: IO[str], stdout: IO[str], stderr: IO[str] | None = None
) -> int:
    err = stderr if stderr is not None else sys.stderr
    engine = default_engine()
    if text is not None:
        result = engine.analyse(text).to_json()
        stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return 0
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            ident, message = _parse(line)
        except (ValueError, json.JSONDecodeError) as exc:
            err.write(f"line {number}: {exc}\n")
            status = 1
            continue
        stdout.write(
            json.dumps({"id": ident, **engine.analyse(message).to_json()}, ensure_ascii=False)
            + "\n"
        )
        stdout.flush()
    return status
