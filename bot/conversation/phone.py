"""Japanese phone numbers typed by a resident who wants to be called back."""

from __future__ import annotations

import re
import unicodedata

# Hyphen-like characters people type (full-width, long vowel mark, dashes) and spaces.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ｰー－()（）]")
_MOBILE = re.compile(r"^0[5-9]0\d{8}$")  # 050/060/070/080/090 + 8 digits
_LANDLINE = re.compile(r"^0[1-9]\d{8}$")  # 10 digits: area code + subscriber


def normalise_phone(text: str) -> str | None:
    """A callable number formatted for staff (090-1234-5678 / digits for landlines),
    or None when the text is not a Japanese phone number."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    raw = unicodedata.normalize("NFKC", text).strip()
    raw = _SEPARATORS.sub("", raw)
    if raw.startswith("+81"):
        raw = "0" + raw[3:]
    if not raw.isascii() or not raw.isdigit():
        return None
    if _MOBILE.match(raw):
        return f"{raw[:3]}-{raw[3:7]}-{raw[7:]}"
    if _LANDLINE.match(raw) and not re.match(r"^0[5-9]0", raw):
        return _format_landline(text, raw)
    return None


def _format_landline(text: str, digits: str) -> str:
    """Keep the resident's own grouping (area codes vary in length) when it adds up."""
    groups = re.split(r"[^0-9]+", unicodedata.normalize("NFKC", text).replace("+81", "0"))
    groups = [g for g in groups if g]
    if len(groups) == 3 and "".join(groups) == digits:
        return "-".join(groups)
    return digits
