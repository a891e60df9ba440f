"""Postback data: URL-query style `a=<action>&k=v…`, at most 300 characters (LINE's limit).

Parsing is defensive: whatever arrives (an old button, a tampered payload, garbage), the
result is a plain dict or None, never an exception.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

MAX_DATA = 300
_MAX_FIELDS = 12
_MAX_VALUE = 64


def encode(action: str, **fields: str) -> str:
    data = urlencode({"a": action, **fields})
    if len(data) > MAX_DATA:
        raise ValueError("postback data longer than 300 characters")
    return data


def decode(data: str) -> dict[str, str] | None:
    """The fields of a postback, or None when it is not one of ours."""
    if not isinstance(data, str) or not data or len(data) > MAX_DATA:
        return None
    try:
        pairs = parse_qsl(data, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        return None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields or len(key) > 16 or len(value) > _MAX_VALUE:
            return None
        fields[key] = value
    if not fields.get("a"):
        return None
    return fields
