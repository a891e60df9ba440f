"""What the resident did, as the conversation sees it (the service turns LINE events into these).

Only what the state machine needs is kept: no user id, no reply token, no media content
(nothing is downloaded; a photo is just `Media("image")`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Follow:
    """The resident added (or re-added) Marugoto as a friend: start fresh."""


@dataclass(frozen=True, slots=True)
class Unfollow:
    """The resident blocked Marugoto: nothing can be sent any more."""


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Postback:
    """A tapped button. `data` is URL-query style (`a=<action>&...`); `params` are LINE's
    postback params (date pickers), empty for ordinary buttons."""

    data: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Media:
    """image, video, audio, file or sticker: answered kindly, never downloaded."""

    kind: str


@dataclass(frozen=True, slots=True)
class Location:
    """A shared location: not used (we do not keep where residents are)."""


@dataclass(frozen=True, slots=True)
class Unsend:
    """The resident took back (unsent) one of their messages, by LINE message id."""

    message_id: str


@dataclass(frozen=True, slots=True)
class Other:
    """Any other event type (join, beacon …): no answer."""

    type: str


Event = Follow | Unfollow | Text | Postback | Media | Location | Unsend | Other

__all__ = [
    "Event",
    "Follow",
    "Location",
    "Media",
    "Other",
    "Postback",
    "Text",
    "Unfollow",
    "Unsend",
]
