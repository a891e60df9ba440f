"""Log setup for the service: one line per record, ids only, nothing forgeable.

Rules (DESIGN.md, privacy): code logs ids (inbox ids, resident ids, webhook event ids), never
message text, names, tokens or passwords. As a second line of defence every formatted record
is made single-line and free of control characters here, so even a careless
`log.info("%s", value)` cannot start a fake log line or colour a terminal (TESTING.md B7).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

_CONTROL = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x7F)}
_CONTROL.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})
# C1 controls and Unicode line/paragraph separators also break or recolour lines.
_CONTROL.update({i: f"\\x{i:02x}" for i in range(0x80, 0xA0)})
_CONTROL.update({0x2028: "\\u2028", 0x2029: "\\u2029", 0x85: "\\x85"})


def neutralise(text: str) -> str:
    """Escape newlines, ANSI escapes and other control characters: one visible line."""
    return text.translate(_CONTROL)


def exception_summary(error: BaseException) -> str:
    """An exception as its type and where it happened, without its message: database errors
    carry their SQL parameters (resident text) in the message."""
    frames = traceback.extract_tb(error.__traceback__)[-4:]
    where = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
    return f"{type(error).__name__} at {where}" if where else type(error).__name__


class SafeFormatter(logging.Formatter):
    """A formatter whose output is always a single line without control characters, and
    whose tracebacks name exception types and places, never exception messages."""

    def format(self, record: logging.LogRecord) -> str:
        # Work on a copy: another handler may have cached the full traceback (with the
        # exception's message) in record.exc_text.
        plain = logging.makeLogRecord(record.__dict__)
        error = record.exc_info[1] if record.exc_info else None
        plain.exc_info = None
        plain.exc_text = None
        plain.stack_info = None
        line = super().format(plain)
        if isinstance(error, BaseException):
            line = f"{line} | {exception_summary(error)}"
        return neutralise(line)


FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(level: int | str = logging.INFO, stream: Any = None) -> None:
    """Install the safe formatter on the root logger and on uvicorn's loggers.

    Uvicorn's access log is turned off: it carries nothing we need and costs time per request.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(SafeFormatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, SafeFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # HTTP client request lines carry URLs with LINE user ids: ids are fine in our own
    # records, but one line per poll or push is noise that hides what matters.
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
