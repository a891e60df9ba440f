"""The answer when the routing engine cannot run: the crisis layer alone.

The crisis layer (triage.crisis) reads only the normalised text with bounded patterns, so it
keeps working when the lexicon, SudachiPy or its dictionary fail to load or raise on a
message. A message then still gets its urgency (a crisis is still a crisis), goes to the
general desk, and asks a question back. Nothing here imports the lexicon or the tokenizer.
"""

from __future__ import annotations

from triage import reporter, safety
from triage.analysis import GENERAL_DESK, Analysis, Evidence, Reporter, WindowScore
from triage.normalise import normalise

#: The general desk's score when only the crisis layer ran (as for an unmatched message).
FALLBACK_SCORE = 0.2


def crisis_only(text: str) -> Analysis:
    """The crisis layer's reading of one message, routed to the general desk."""
    norm = normalise(text)
    danger = safety.assess(norm)
    writer: Reporter = "unknown"
    writer_evidence: tuple[Evidence, ...] = ()
    if norm.fold.strip():
        writer, writer_evidence = reporter.detect(norm.fold)
    return Analysis(
        windows=(WindowScore(GENERAL_DESK, FALLBACK_SCORE),),
        urgency=danger.urgency,
        reporter=writer,
        clarify=True,
        evidence=danger.evidence + writer_evidence,
        crisis_signals=danger.signals,
        risk=danger.risk,
    )
