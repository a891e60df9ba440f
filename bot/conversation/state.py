"""The per-resident conversation state: small, JSON-serialisable, versioned.

It never holds the resident's message text (only the triage summary of the last worry, a
phone number they chose to give for a call back, and where they are in a flow), and it reads
back whatever was stored by an older or newer version: unknown keys are dropped, missing or
mistyped ones take their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

VERSION = 1

#: Where the resident is. "idle" = free text is triaged.
PHASES = frozenset(
    {
        "idle",
        "clarify",  # one clarifying question was asked; the next answer routes
        "consent",  # the consent text was shown; waiting for 同意する / やめておく
        "contact_method",  # LINE or phone?
        "contact_phone",  # waiting for a typed phone number
        "contact_time",  # 平日午前 / 平日午後 / いつでも / 自由入力
        "contact_time_free",  # waiting for a typed time
        "erase_confirm",  # 「削除」 asked; waiting for はい / いいえ
        "direct_question",  # asked whether they think of dying; waiting for the answer
    }
)


@dataclass(frozen=True, slots=True)
class State:
    phase: str = "idle"
    #: The last worry routed: window ids shown, urgency, reporter and the triage summary
    #: (Analysis.to_json(), no raw text). Used for the handoff.
    windows: tuple[str, ...] = ()
    urgency: str = "normal"
    reporter: str = "unknown"
    summary: dict[str, Any] = field(default_factory=dict)
    #: ISO time of the last crisis hit: crisis mode for at least a day (no booking, no menus,
    #: a 24-hour line in every answer; the handoff stays urgent).
    crisis_at: str | None = None
    #: ISO time the direct question (about wanting to die) was last asked.
    direct_asked_at: str | None = None
    #: Consent on record as this conversation knows it (the database is the authority).
    consent_version: str | None = None
    consent_given_at: str | None = None
    consent_hash: str | None = None
    #: Contact preference being collected for a handoff.
    contact_method: str | None = None
    contact_phone: str | None = None
    #: Wrong phone numbers typed in a row (after two, we offer LINE instead).
    phone_attempts: int = 0
    #: "A person is reading" was said during the current staff session.
    staff_notice_shown: bool = False
    #: The booking dialogue's own small state (bot.conversation.booking), e.g. waiting for
    #: a typed phone number.
    booking: dict[str, Any] = field(default_factory=dict)
    #: The window cards the last answer showed (cleared by every next step): a follow-up
    #: is answered in context and the same cards are never sent twice in a row.
    shown: tuple[str, ...] = ()
    #: The language the resident writes in ("ja", or "en" after a message in English).
    lang: str = "ja"

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "phase": self.phase,
            "windows": list(self.windows),
            "urgency": self.urgency,
            "reporter": self.reporter,
            "summary": dict(self.summary),
            "crisis_at": self.crisis_at,
            "direct_asked_at": self.direct_asked_at,
            "consent_version": self.consent_version,
            "consent_given_at": self.consent_given_at,
            "consent_hash": self.consent_hash,
            "contact_method": self.contact_method,
            "contact_phone": self.contact_phone,
            "phone_attempts": self.phone_attempts,
            "staff_notice_shown": self.staff_notice_shown,
            "booking": dict(self.booking),
            "shown": list(self.shown),
            "lang": self.lang,
        }

    @classmethod
    def from_json(cls, d: Any) -> State:
        """Tolerant reader: anything unusable becomes the default."""
        if not isinstance(d, dict):
            return cls()
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            value = d[f.name]
            default = getattr(defaults, f.name)
            if f.name in ("windows", "shown"):
                if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                    values[f.name] = tuple(value)
            elif f.name in ("summary", "booking"):
                if isinstance(value, dict):
                    values[f.name] = value
            elif f.name == "phase":
                if value in PHASES:
                    values[f.name] = value
            elif f.name == "lang":
                if value in ("ja", "en"):
                    values[f.name] = value
            elif isinstance(default, bool):
                if isinstance(value, bool):
                    values[f.name] = value
            elif isinstance(default, int):
                if isinstance(value, int) and not isinstance(value, bool):
                    values[f.name] = max(0, min(value, 100))
            elif isinstance(value, str) or (value is None and default is None):
                values[f.name] = value
        return cls(**values)

    def evolve(self, **changes: Any) -> State:
        return replace(self, **changes)
