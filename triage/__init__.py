"""Pure Japanese triage: normalise → tokenise (SudachiPy) → crisis check → window scoring.

Public API: `analyse(text) -> Analysis` (see triage.analysis for the result's shape).

Safety first: the crisis layer needs nothing but the text. If the routing part fails (the
lexicon does not load, SudachiPy or its dictionary raise), `analyse` does not raise: it
returns the crisis layer's reading routed to the general desk with a question back
(triage.fallback), and logs the failure once, without the message.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from triage.analysis import Analysis, Evidence, WindowScore

__all__ = ["Analysis", "Evidence", "WindowScore", "analyse", "warm_up"]

log = logging.getLogger(__name__)

#: After the engine failed to load, wait this long before trying to load it again (loading
#: takes about a second; every message must not pay for it while the lexicon is broken).
RETRY_LOAD_AFTER = 60.0

_failures: dict[str, float] = {}
_logged: set[str] = set()
_lock = threading.Lock()


def analyse(text: str, *, lexicon_dir: Path | None = None) -> Analysis:
    """Read one message. The engine (and its dictionary) loads on the first call.

    `lexicon_dir` reads the routing lexicon from another directory (tests, a staged update);
    by default the packaged lexicon is used. Never raises because routing failed: see the
    module docstring.
    """
    from triage.fallback import crisis_only

    key = "packaged" if lexicon_dir is None else str(Path(lexicon_dir).resolve())
    failed_at = _failures.get(key)
    if failed_at is not None and time.monotonic() - failed_at < RETRY_LOAD_AFTER:
        return crisis_only(text)
    try:
        from triage.engine import default_engine, engine_for

        engine = default_engine() if lexicon_dir is None else engine_for(Path(lexicon_dir))
    except Exception as exc:  # any load failure: the crisis layer still answers
        with _lock:
            _failures[key] = time.monotonic()
        # A load error names a file or a dictionary, never a message: its text may be logged.
        _log_once(f"load:{key}", "engine failed to load", exc, detail=str(exc)[:300])
        return crisis_only(text)
    with _lock:
        _failures.pop(key, None)
    try:
        return engine.analyse(text)
    except Exception as exc:  # a routing bug must not hide a crisis
        # Only the exception's type: its message could quote the resident's text.
        _log_once(f"analyse:{type(exc).__name__}", "routing failed on a message", exc)
        return crisis_only(text)


def warm_up() -> None:
    """Load the packaged engine (dictionary, lexicon, risk data) now rather than on the first
    message, so that the first resident does not wait for it (~0.7 s of CPU). Never raises:
    a load failure is logged once and the crisis layer answers, as in `analyse`."""
    analyse("おはようございます")


def _log_once(key: str, what: str, exc: Exception, *, detail: str = "") -> None:
    with _lock:
        if key in _logged:
            return
        _logged.add(key)
    log.error(
        "triage %s (%s%s); answering from the crisis layer only",
        what,
        type(exc).__name__,
        f": {detail}" if detail else "",
    )
