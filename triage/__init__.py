"""Pure Japanese triage: normalise → tokenise (SudachiPy) → crisis check → window scoring.

Public API: `analyse(text) -> Analysis` (see triage.analysis for the result's shape).
"""

from triage.analysis import Analysis, Evidence, WindowScore

__all__ = ["Analysis", "Evidence", "WindowScore", "analyse"]


def analyse(text: str) -> Analysis:
    """Read one message. The engine (and its dictionary) loads on the first call."""
    from triage.engine import default_engine

    return default_engine().analyse(text)
