"""Japanese phone numbers typed by a resident who wants to be called back."""

from __future__ import annotations

import re
import unicodedata

# Hyphen-like characters people type (full-width, long vowel mark, dashes) and spaces.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ｰー－()（）]")
_MOBILE = re.compile(r"^0[5-9]0\d{8}$")  # 050/060/070/080/090 + 8 digits
_LANDLINE = re.compile(r"^0[1-9]\d{8}$")  # 10 digits: area code + subscriber


#: A number inside words: digits with the separators people type, 10 or 11 digits in all.
_CANDIDATE = re.compile(r"(?:\+81|0)[0-9\s\-‐‑‒–—―−ｰー－()（）]{8,20}[0-9]")
#: A message longer than this is not "my number is …".
MAX_TEXT = 200


def normalise_phone(text: str) -> str | None:
    """A callable number formatted for staff (090-1234-5678 / digits for landlines), or
    None when the text holds no Japanese phone number. People type numbers with spaces,
    hyphens and full-width digits, and with words around them (「080 9876 5432 です。夕方なら
    出られます」): exactly one number in the text counts; two numbers are ambiguous."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return None
    whole = _only_number(text)
    if whole is not None:
        return whole
    found = {
        number
        for match in _CANDIDATE.finditer(unicodedata.normalize("NFKC", text))
        if (number := _only_number(match.group(0).strip())) is not None
    }
    return found.pop() if len(found) == 1 else None


def _only_number(text: str) -> str | None:
    if len(text) > 40:
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
