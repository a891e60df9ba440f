"""Optional second check: LINE's own OpenAPI description (messaging-api.yml) via openapi-core.

The file lives outside the repository (../shared/line-openapi/ in CI, or MARUGOTO_LINE_OPENAPI).
A fresh clone has neither, and then only the SDK models check requests. Loading the spec takes
about a second, so it is parsed once per process and shared by every fake.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "MARUGOTO_LINE_OPENAPI"
_REPO_ROOT = Path(__file__).resolve().parents[2]
_DEFAULT_PATH = _REPO_ROOT.parent / "shared" / "line-openapi" / "messaging-api.yml"

_lock = threading.Lock()
_cache: dict[Path, Any] = {}


def spec_path() -> Path | None:
    """Where messaging-api.yml is, or None when this machine has no copy."""
    configured = os.environ.get(ENV_VAR)
    candidates = [Path(configured)] if configured else [_DEFAULT_PATH]
    for candidate in candidates:
        if candidate.is_dir():
            candidate = candidate / "messaging-api.yml"
        if candidate.is_file():
            return candidate
    return None


def load_validator(path: Path | None = None) -> Any | None:
    """The openapi-core app for the spec, or None (no spec file, or openapi-core missing)."""
    path = path or spec_path()
    if path is None:
        return None
    try:
        from openapi_core import OpenAPI
    except ImportError:  # a production install without the dev extras
        return None
    with _lock:
        if path not in _cache:
            _cache[path] = OpenAPI.from_file_path(str(path))
        return _cache[path]


@dataclass
class _Request:
    """The openapi-core Request protocol for one recorded HTTP request."""

    path: str
    method: str
    body: bytes
    content_type: str
    headers: dict[str, str]
    host_url: str = "https://api.line.me"  # the spec's server
    parameters: Any = field(init=False)

    def __post_init__(self) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers

        self.parameters = RequestParameters(header=Headers(self.headers))


def check(
    validator: Any,
    *,
    path: str,
    method: str,
    body: bytes,
    headers: dict[str, str],
    host_url: str = "https://api.line.me",
) -> str | None:
    """None when the request matches the spec, else a short reason. host_url: the spec's
    server for this path (https://api-data.line.me for uploads such as rich menu images)."""
    request = _Request(
        path=path,
        method=method.lower(),
        body=body,
        content_type=headers.get("content-type", ""),
        headers=headers,
        host_url=host_url,
    )
    try:
        validator.validate_request(request)
    except Exception as exc:
        return f"openapi: {type(exc).__name__}: {exc}"[:500]
    return None
