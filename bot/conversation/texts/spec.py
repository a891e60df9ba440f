"""What the code says to residents: every text key with the placeholders the code fills,
every button label, and the review rules of each language.

Adding a text: its key and placeholders here, its words in every language file (ja.yaml,
and any other <lang>.yaml). Adding a language: a <lang>.yaml with every key below and a
FORBIDDEN entry for it. The loader (bot.conversation.texts) refuses, at import, a key
missing in one language, a placeholder the code does not fill, a label over LINE's limit,
a preachy phrase, a language without review rules and a key the code does not use.
"""

from __future__ import annotations

from knowledge.booking import load_booking_settings
from knowledge.menu import load_menu

#: The reference language: the others must match its keys; answers use it by default.
DEFAULT_LANGUAGE = "ja"
#: Phrases that lecture or pressure (staff review rule), per language: refused anywhere in
#: that language's file. A language file without an entry here is refused.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "ja": ("べき", "頑張って", "がんばって", "しなければ", "しないと駄目"),
    "en": ("you should", "you must", "you have to", "try harder", "cheer up", "calm down"),
}
#: Top-level keys that are not texts (the file format's version).
META_KEYS = frozenset({"version"})


def _spec(groups: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    return {key: frozenset(names) for key, names in groups.items()}


#: Every text the code uses, with the placeholders it fills: these, and the question of
#: each start point of the menu in knowledge/ that asks one (start.<id>, no placeholders).
TEXTS: dict[str, frozenset[str]] = _spec(
    {
        "consent.text": (),
        "follow.welcome": ("desk", "hours"),
        "follow.privacy": (),
        "follow.ask": (),
        "menu.ask": (),
        "start.hikikomori": (),
        "start.feelings": ("name", "number", "hours"),
        "start.write": (),
        "answer.ack_self": (),
        "answer.ack_family": (),
        "answer.ack_third_party": (),
        "answer.ack_concern": (),
        "answer.why_words": ("words",),
        "answer.why_plain": (),
        "answer.why_many": (),
        "answer.next": (),
        "answer.next_reserve": ("desk",),
        "answer.cards_alt": ("summary",),
        "card.phone": (),
        "card.hours": (),
        "card.reservation": (),
        "card.place": (),
        "card.schedule": (),
        "card.fee": (),
        "card.ask_desk": ("desk", "phone"),
        "card.alt_line": ("name", "phone"),
        "card.alt_line_no_phone": ("name", "desk", "phone"),
        "ibasho.intro": (),
        "other.ask": (),
        "neighbour_child.danger_line": ("name", "number", "hours"),
        "out_of_scope.text": ("desk", "phone"),
        "clarify.ask": (),
        "clarify.fallback": (),
        "concern.check_in": ("name", "number", "hours"),
        "concern.very_hard": (),
        "concern.very_hard_end": (),
        "crisis.opening": (),
        "crisis.danger_now": ("number", "name"),
        "crisis.line": ("name", "number", "hours"),
        "crisis.desk_open": ("desk", "phone"),
        "crisis.staff_open": ("desk",),
        "crisis.staff_closed": ("when",),
        "crisis.offer": (),
        "crisis.after_routine": (),
        "handoff.declined": (),
        "handoff.contact_method": (),
        "handoff.ask_phone": (),
        "handoff.bad_phone": (),
        "handoff.ask_time": (),
        "handoff.ask_time_free": (),
        "handoff.done_open": (),
        "handoff.done_closed": ("when",),
        "handoff.done_line_tail": (),
        "handoff.done_phone_tail": ("phone",),
        "handoff.done_safety": ("name", "number"),
        "handoff.withdrawn": (),
        "handoff.not_given": (),
        "erase.confirm": (),
        "erase.done": (),
        "erase.kept": (),
        "media.text": (),
        "media.location": (),
        "staff.reading": (),
        "staff.hand_back": (),
        "error.fallback": ("desk", "phone", "name", "number"),
        "time.when": ("month", "day", "weekday", "clock"),
        "time.clock_minutes": ("hour", "minute"),
        "time.clock_hour": ("hour",),
        "time.date": ("month", "day", "weekday"),
        "time.slot": ("date", "hour", "minute"),
        "time.short_date": ("month", "day", "weekday"),
        "time.contact_am": (),
        "time.contact_pm": (),
        "time.contact_any": (),
        # the booking dialogue (bot.conversation.booking)
        "booking.choose_service": (),
        "booking.slots_intro": ("name",),
        "booking.slots_on_date": ("date",),
        "booking.no_slots_on_date": ("date",),
        "booking.no_slots": ("phone",),
        "booking.no_slots_without_phone": (),
        "booking.ibasho_first_visit": (),
        "booking.next_week_intro": ("name",),
        "booking.choose_mode": (),
        "booking.ask_phone": (),
        "booking.bad_phone": (),
        "booking.confirm": ("name", "when", "how"),
        "booking.how_visit": ("place",),
        "booking.how_visit_no_place": (),
        "booking.how_phone": ("phone",),
        "booking.reschedule_confirm": ("name", "when", "how"),
        "booking.booked": ("reference", "name", "when", "how"),
        "booking.reminder_note.both": (),
        "booking.reminder_note.day_before": (),
        "booking.reminder_note.morning_of": (),
        "booking.booked_footer": (),
        "booking.rescheduled": ("reference", "name", "when", "how"),
        "booking.already_booked": ("reference",),
        "booking.too_many": ("count",),
        "booking.full": (),
        "booking.full_no_alternatives": ("phone",),
        "booking.quit": (),
        "booking.flow_expired": (),
        "booking.list_intro": (),
        "booking.list_item": ("when", "name", "reference"),
        "booking.list_actions": (),
        "booking.list_none": (),
        "booking.change_label": ("short",),
        "booking.cancel_label": ("short",),
        "booking.cancel_ask": ("when", "name"),
        "booking.kept": (),
        "booking.cancelled": ("reference",),
        "booking.cancelled_no_offer": ("reference",),
        "booking.already_cancelled": (),
        "booking.not_found": (),
        "booking.move_intro": ("when",),
        "booking.staff_cancelled": ("when", "name", "reference"),
        "booking.staff_rescheduled": ("reference", "name", "when", "how"),
        "booking.reminder_day_before": ("name", "when", "how", "reference"),
        "booking.reminder_morning_of": ("name", "when", "how", "reference"),
        "booking.reminder_alt": ("when", "name", "reference"),
    }
) | {f"start.{point.id}": frozenset() for point in load_menu().start_points if point.flow is None}

#: Button labels the code uses by name (labels.<name>; at most messages.LABEL_MAX characters).
FIXED_LABELS: tuple[str, ...] = (
    "staff",
    "ibasho",
    "other",
    "book",
    "write",
    "menu",
    "consent_yes",
    "consent_no",
    "contact_line",
    "contact_phone",
    "time_am",
    "time_pm",
    "time_any",
    "time_free",
    "erase_yes",
    "erase_no",
    "very_hard",
    "call",
    "call_desk",
    "family_hikikomori",
    "booking_list",
    "booking_other_date",
    "booking_new",
    "booking_quit",
    "booking_confirm",
    "booking_reschedule",
    "booking_cancel_yes",
    "booking_cancel_no",
    "booking_cant_go",
    "booking_see",
    "richmenu_consult",
    "richmenu_book",
    "richmenu_ibasho",
    "richmenu_bookings",
    "richmenu_erase",
    "richmenu_chat_bar",
)


def labels() -> tuple[str, ...]:
    """Every label name: the fixed ones, one per booking mode, and one per start point and
    category of the menu in knowledge/ (labels.start_<id>, labels.cat_<id>)."""
    menu = load_menu()
    modes = sorted({mode for s in load_booking_settings().services.values() for mode in s.modes})
    return (
        *FIXED_LABELS,
        *(f"booking_mode_{mode}" for mode in modes),
        *(f"start_{point.id}" for point in menu.start_points),
        *(f"cat_{category}" for category in menu.categories),
    )
