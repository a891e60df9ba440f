"""The booking dialogue: choose what, when and how, confirm; list, cancel, reschedule.

Pure: no database, no clock, no network. What the dialogue must know from the database
(free slots, the resident's bookings) it asks the `BookingPort` in `Context.booking`; what
it wants done (book, cancel, move) it returns as effects, which
`bot.actions.effects.apply_booking_effect` carries out in the worker's transaction and
answers (the confirmation, or 「埋まってしまいました」 with the nearest alternatives).

Everything a confirm button needs travels in its postback data (slot, mode, phone and a
request key), so a double-tapped button asks for the same booking twice and the database's
unique request key turns the second into a no-op (TESTING.md H8). The only state kept
between turns is "waiting for a typed phone number" (`BookingTurn.state`).

Seam with the conversation (bot.conversation.machine):
- `book_action(window, ctx)`: the 「予約する」 button of a triage answer (`a=book&w=<window>`);
- `handle(state, fields, ctx)`: every postback whose action starts with ``book``;
- `handle_text(...)` / `booking_intent(text)`: typed phone numbers and 「予約したい」 etc.
  (the conversation checks for a crisis first).

Postback data: ``a=book&o=<op>&…`` — op (fields): "" (s|w) start · svc (s) · day (s d [mv])
· date (s [mv], the picker's date as d) · pick (sl [mv]) · mode (sl m) · ok (sl m [ph] k [mv])
· quit · list · cancel_ask (b) · cancel (b) · keep · move (b).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode

from bot.conversation import messages as m
from bot.conversation import postback as pb
from bot.conversation import texts
from bot.conversation.effects import BookingEffect, BookSlot, CancelBooking, RescheduleBooking
from bot.conversation.phone import normalise_phone
from bot.conversation.timefmt import short_day, short_when, slot_day, slot_when
from knowledge.booking import (
    BookableService,
    BookingSettings,
    first_bookable_date,
    last_bookable_date,
    load_booking_settings,
    next_sessions,
)
from knowledge.calendar import JST, to_jst
from knowledge.windows import Window, get_window

if TYPE_CHECKING:
    from bot.conversation.machine import Context, Step
    from bot.conversation.state import State

Message = dict[str, Any]

#: A resident may hold this many upcoming bookings at once (a prank cannot fill the desk).
MAX_ACTIVE_BOOKINGS = 3
QUICK_REPLY_MAX = m.QUICK_REPLY_MAX
#: How long "send me your phone number" waits before text goes back to the triage.
PHONE_WAIT = timedelta(minutes=30)


# ----------------------------------------------------------------------------- views, port


@dataclass(frozen=True)
class SlotView:
    slot_id: int
    service_id: str
    starts_at: datetime  # aware UTC
    ends_at: datetime
    remaining: int


@dataclass(frozen=True)
class BookingView:
    booking_id: int
    reference: str
    service_id: str
    starts_at: datetime  # aware UTC
    ends_at: datetime
    mode: str  # visit | phone
    phone: str | None
    status: str


class BookingPort(Protocol):
    """What the dialogue reads from the database (bot.queries.booking.DbBookingPort)."""

    def can_book(self, window_id: str) -> bool:
        """Whether residents book this window in the chat (a bookable service covers it)."""
        ...

    def available_slots(self, service_id: str, since: datetime, limit: int) -> list[SlotView]:
        """Bookable slots of a service starting at or after `since`, earliest first."""
        ...

    def slot(self, slot_id: int) -> SlotView | None:
        """One slot if it is still bookable, else None."""
        ...

    def bookings_of(self) -> list[BookingView]:
        """The active, not yet ended bookings of the resident this port was opened for
        (the conversation never sees user ids), earliest first."""
        ...


# ----------------------------------------------------------------------------- turns


@dataclass(frozen=True)
class BookingTurn:
    """What one resident event does to the booking dialogue.

    `state` is the booking sub-state to keep (None: nothing to keep); the caller stores it
    and passes it back next turn. `messages` may be empty when an effect answers.
    """

    messages: tuple[Message, ...] = ()
    effects: tuple[BookingEffect, ...] = ()
    state: Mapping[str, Any] | None = None


# ----------------------------------------------------------------------------- texts


def _t(key: str, **values: Any) -> str:
    """A text of the booking section of the text store (bot.conversation.texts)."""
    return texts.text(f"booking.{key}", **values)


# ----------------------------------------------------------------------------- facts


def _service(service_id: str, settings: BookingSettings | None = None) -> BookableService:
    return (settings or load_booking_settings()).service(service_id)


def service_name(service_id: str) -> str:
    return _service(service_id).name


def place_of(service_id: str) -> str | None:
    """Where it happens, as knowledge/ has it from the seeds (never invented)."""
    place = get_window(_service(service_id).window_id).place
    return place.value if place is not None else None


def _desk_phone() -> str | None:
    phone = get_window("general_desk").phone
    return phone.value if phone is not None else None


def how_text(service_id: str, mode: str, phone: str | None) -> str:
    if mode == "phone":
        return _t("how_phone", phone=phone or "")
    place = place_of(service_id)
    return _t("how_visit", place=place) if place else _t("how_visit_no_place")


# ----------------------------------------------------------------------------- LINE objects


def _data(op: str, **params: object) -> str:
    """Postback data of a booking button: ``a=book&o=<op>&…`` (the conversation sends every
    ``a=book`` to `handle`)."""
    fields = {"a": "book", **({"o": op} if op else {})}
    fields.update({k: str(v) for k, v in params.items() if v is not None})
    return urlencode(fields)


def card(text: str, alt: str, actions: Sequence[Message]) -> Message:
    """A Flex bubble: the text and its buttons underneath (they stay tappable, unlike quick
    replies, which vanish after the next message)."""
    buttons = [
        {
            "type": "button",
            "style": "primary" if index == 0 else "secondary",
            "height": "sm",
            "action": action,
        }
        for index, action in enumerate(actions)
    ]
    bubble = {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": text, "wrap": True}],
        },
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
    }
    return m.flex(alt, bubble)


def _quit_action() -> Message:
    return m.postback(texts.label("booking_quit"), _data("quit"))


def _list_action() -> Message:
    return m.postback(texts.label("booking_list"), _data("list"))


def _service_actions() -> list[Message]:
    services = load_booking_settings().services.values()
    return [m.postback(s.label, _data("svc", s=s.id)) for s in services]


# ----------------------------------------------------------------------------- free text


@dataclass(frozen=True)
class BookingIntent:
    kind: str  # book | list | cancel | change
    service_id: str | None = None
    next_week: bool = False


_LIST_WORDS = ("予約確認", "予約の確認", "予約を確認", "予約した日", "予約はいつ", "予約を見")
_CANCEL_WORDS = ("キャンセル", "予約をやめ", "予約を取り消", "予約を取消", "行けなくなった")
_CHANGE_WORDS = ("予約を変", "予約の変更", "予約変更", "日にちを変", "日時を変", "日程を変")
_BOOK_WORDS = (
    "予約したい",
    "予約する",
    "予約をしたい",
    "予約を取りたい",
    "予約をとりたい",
    "予約できますか",
    "予約お願い",
    "予約をお願い",
    "予約を入れ",
    "相談に行きたい",
    "相談にいきたい",
    "相談に行く",
)


def booking_intent(text: str) -> BookingIntent | None:
    """A booking wish in free text (「予約したい」「来週相談に行きたい」「予約確認」…), or None.

    The conversation must look for a crisis first: this only sees ordinary words.
    """
    words = unicodedata.normalize("NFKC", text).replace(" ", "").replace("　", "")
    if len(words) > 60:  # a long message is a worry to triage, not a button press
        return None
    if any(w in words for w in _LIST_WORDS):
        return BookingIntent("list")
    if any(w in words for w in _CHANGE_WORDS):
        return BookingIntent("change")
    if any(w in words for w in _CANCEL_WORDS) and ("予約" in words or len(words) <= 12):
        return BookingIntent("cancel")
    if not any(w in words for w in _BOOK_WORDS):
        return None
    service_id: str | None = None
    if "居場所" in words:
        service_id = "ibasho"
    elif "家族" in words and any(w in words for w in ("集い", "集まり", "つどい")):
        service_id = "family_gathering"
    elif "相談" in words:
        service_id = "consultation"
    return BookingIntent("book", service_id, next_week="来週" in words)


# ----------------------------------------------------------------------------- entry points


def is_booking_postback(data: str) -> bool:
    return data == "a=book" or data.startswith("a=book&")


def awaiting_text(state: Mapping[str, Any] | None, now: datetime) -> bool:
    """True while the dialogue waits for a typed phone number (so text comes here)."""
    if not state or state.get("stage") != "phone":
        return False
    try:
        asked = datetime.fromisoformat(str(state["asked_at"]))
    except (KeyError, ValueError):
        return False
    return timedelta(0) <= now - asked <= PHONE_WAIT


def handle_postback(
    data: str | Mapping[str, str],
    params: Mapping[str, str] | None,
    state: Mapping[str, Any] | None,
    *,
    port: BookingPort,
    now: datetime,
    summary: Mapping[str, Any] | None = None,
) -> BookingTurn:
    """A tap on one of our buttons (action starting with ``book``). `data` is the raw
    postback data or its decoded fields; `params` are LINE's (the date picker's date)."""
    fields = dict(parse_qsl(data)) if isinstance(data, str) else dict(data)
    handler = _POSTBACKS.get(fields.get("o", "")) if fields.get("a") == "book" else None
    if handler is None:
        return _start()
    picked = (params or {}).get("date")
    return handler(_Tap(fields, picked, port, now, summary))


def handle_text(
    text: str,
    state: Mapping[str, Any] | None,
    *,
    port: BookingPort,
    now: datetime,
) -> BookingTurn | None:
    """Free text: the awaited phone number, or a booking intent. None: not ours."""
    if awaiting_text(state, now):
        assert state is not None
        return _phone_typed(text, state, port, now)
    intent = booking_intent(text)
    if intent is None:
        return None
    return start_for_intent(intent, port=port, now=now)


def start_for_intent(intent: BookingIntent, *, port: BookingPort, now: datetime) -> BookingTurn:
    if intent.kind == "list":
        return _list(port)
    if intent.kind in ("cancel", "change"):
        return _list(port, only=intent.kind)
    if intent.service_id is None:
        return _start()
    since = _next_monday(now) if intent.next_week else now
    return _offer(intent.service_id, port, now, since=since, next_week=intent.next_week)


def service_for_window(window_id: str) -> str | None:
    """The bookable service for a triage window (None if that window takes no bookings)."""
    service = load_booking_settings().service_for_window(window_id)
    return service.id if service is not None else None


# ----------------------------------------------------------------------------- the dialogue


@dataclass(frozen=True)
class _Tap:
    fields: Mapping[str, str]
    picked_date: str | None
    port: BookingPort
    now: datetime
    summary: Mapping[str, Any] | None

    def get_int(self, key: str) -> int | None:
        try:
            return int(self.fields[key])
        except (KeyError, ValueError):
            return None


def _start() -> BookingTurn:
    """「どれを予約しますか？」"""
    return BookingTurn((m.text(_t("choose_service"), [*_service_actions(), _list_action()]),))


def _on_start(tap: _Tap) -> BookingTurn:
    service_id = tap.fields.get("s") or service_for_window(tap.fields.get("w", "")) or ""
    if service_id in load_booking_settings().services:
        return _offer(service_id, tap.port, tap.now)
    return _start()


def _on_service(tap: _Tap) -> BookingTurn:
    service_id = tap.fields.get("s", "")
    if service_id not in load_booking_settings().services:
        return _start()
    return _offer(service_id, tap.port, tap.now, move=tap.get_int("mv"))


def _next_monday(now: datetime) -> datetime:
    today = to_jst(now).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, time(0), tzinfo=JST).astimezone(UTC)


def _picker(service_id: str, now: datetime, move: int | None) -> Message:
    settings = load_booking_settings()
    first = first_bookable_date(now, settings)
    last = last_bookable_date(now, settings, settings.service(service_id))
    return {
        "type": "datetimepicker",
        "label": texts.label("booking_other_date"),
        "data": _data("date", s=service_id, mv=move),
        "mode": "date",
        "initial": first.isoformat(),
        "min": first.isoformat(),
        "max": last.isoformat(),
    }


def _slot_action(slot: SlotView, move: int | None) -> Message:
    return m.postback(
        short_when(slot.starts_at),
        _data("pick", sl=slot.slot_id, s=slot.service_id, mv=move),
        slot_when(slot.starts_at),
    )


def _day_action(service_id: str, day: date, move: int | None) -> Message:
    return m.postback(
        short_day(day), _data("day", s=service_id, d=day.isoformat(), mv=move), slot_day(day)
    )


def _no_slots_text() -> str:
    phone = _desk_phone()
    return _t("no_slots", phone=phone) if phone else _t("no_slots_without_phone")


def _offer(
    service_id: str,
    port: BookingPort,
    now: datetime,
    *,
    since: datetime | None = None,
    move: int | None = None,
    next_week: bool = False,
    lead: str | None = None,
) -> BookingTurn:
    """The next open days (consultations) or sessions (monthly), as quick replies."""
    service = _service(service_id)
    slots = port.available_slots(service_id, since or now, 200)
    messages: list[Message] = []
    if service.reservation == "first_visit":
        messages.append(m.text(_t("ibasho_first_visit")))
    if not slots:
        upcoming = next_session_text(service_id, now)
        body = _no_slots_text() if upcoming is None else upcoming + "\n" + _t("next_session_ask")
        messages.append(m.text(body, [_list_action()]))
        return BookingTurn(tuple(messages))
    if lead is not None:
        intro = lead
    elif next_week:
        intro = _t("next_week_intro", name=service.name)
    else:
        intro = _t("slots_intro", name=service.name)
    tail = [_picker(service_id, now, move), _quit_action()]
    room = QUICK_REPLY_MAX - len(tail)
    if service.pattern == "opening_hours":
        days: list[date] = []
        for slot in slots:
            day = to_jst(slot.starts_at).date()
            if day not in days:
                days.append(day)
        choices = [_day_action(service_id, d, move) for d in days[:room]]
    else:
        choices = [_slot_action(s, move) for s in slots[:room]]
    messages.append(m.text(intro, [*choices, *tail]))
    return BookingTurn(tuple(messages))


def _on_day(tap: _Tap) -> BookingTurn:
    service_id = tap.fields.get("s", "")
    if service_id not in load_booking_settings().services:
        return _start()
    move = tap.get_int("mv")
    try:
        day = date.fromisoformat(tap.picked_date or tap.fields.get("d", ""))
    except ValueError:
        return _offer(service_id, tap.port, tap.now, move=move)
    since = max(tap.now, datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC))
    slots = tap.port.available_slots(service_id, since, 50)
    same_day = [s for s in slots if to_jst(s.starts_at).date() == day]
    tail = [_picker(service_id, tap.now, move), _quit_action()]
    room = QUICK_REPLY_MAX - len(tail)
    if same_day:
        choices = [_slot_action(s, move) for s in same_day[:room]]
        intro = _t("slots_on_date", date=slot_day(day))
        return BookingTurn((m.text(intro, [*choices, *tail]),))
    # A closed or full day: the open times nearest to it, before or after, so the resident
    # stays in the flow (also while moving a booking) instead of being told there is none.
    around = _nearest_to(tap.port.available_slots(service_id, tap.now, 200), day)
    if not around:
        return BookingTurn((m.text(_no_slots_text(), [_list_action(), *tail]),))
    nearest = [_slot_action(s, move) for s in around[:room]]
    intro = _t("no_slots_on_date", date=slot_day(day))
    return BookingTurn((m.text(intro, [*nearest, *tail]),))


def _nearest_to(slots: Sequence[SlotView], day: date) -> list[SlotView]:
    """Open slots nearest to `day`: the first ones after it, then the nearest before it
    (the resident asked for that time of the month), one slot per day so several days
    are offered."""
    by_day: dict[date, SlotView] = {}
    for slot in slots:
        by_day.setdefault(to_jst(slot.starts_at).date(), slot)
    after = sorted((s for d, s in by_day.items() if d > day), key=lambda s: s.starts_at)
    before = sorted(
        (s for d, s in by_day.items() if d < day), key=lambda s: -s.starts_at.timestamp()
    )
    return [*after, *before]


def next_session_text(service_id: str, now: datetime) -> str | None:
    """「居場所プロジェクトの 次の回は 1月5日（火）15:00からです。」 for a monthly service
    (from knowledge/, however far off), else None."""
    settings = load_booking_settings()
    service = settings.service(service_id)
    upcoming = next_sessions(service, now, settings, 1)
    if not upcoming:
        return None
    return _t("next_session", name=service.name, when=slot_when(upcoming[0]))


def _request_key(slot_id: int, now: datetime) -> str:
    return f"{slot_id}.{int(now.timestamp() * 1000)}"


def _confirm_turn(
    slot: SlotView, mode: str, phone: str | None, now: datetime, move: int | None = None
) -> BookingTurn:
    service = _service(slot.service_id)
    how = how_text(slot.service_id, mode, phone)
    key = _request_key(slot.slot_id, now)
    ok = _data("ok", sl=slot.slot_id, m=mode, ph=phone, k=key, mv=move)
    when = slot_when(slot.starts_at)
    if move is None:
        text = _t("confirm", name=service.name, when=when, how=how)
        yes = m.postback(texts.label("booking_confirm"), ok)
    else:
        text = _t("reschedule_confirm", name=service.name, when=when, how=how)
        yes = m.postback(texts.label("booking_reschedule"), ok)
    return BookingTurn((card(text, text, [yes, _quit_action()]),))


def _find_booking(port: BookingPort, booking_id: int) -> BookingView | None:
    for view in port.bookings_of():
        if view.booking_id == booking_id:
            return view
    return None


def _gone(tap: _Tap, service_id: str | None) -> BookingTurn:
    """The picked slot is no longer bookable: say so, and offer what is open."""
    if service_id and service_id in load_booking_settings().services:
        return _offer(service_id, tap.port, tap.now, lead=_t("full"))
    return BookingTurn((m.text(_t("flow_expired"), _service_actions()),))


def _on_pick(tap: _Tap) -> BookingTurn:
    slot_id = tap.get_int("sl")
    slot = tap.port.slot(slot_id) if slot_id is not None else None
    if slot is None:
        return _gone(tap, tap.fields.get("s"))
    move = tap.get_int("mv")
    if move is not None:
        old = _find_booking(tap.port, move)
        if old is None:
            return _list(tap.port, lead=_t("not_found"))
        return _confirm_turn(slot, old.mode, old.phone, tap.now, move)
    service = _service(slot.service_id)
    if len(service.modes) == 1:
        return _confirm_turn(slot, service.modes[0], None, tap.now)
    actions = [
        m.postback(
            texts.label(f"booking_mode_{mode}"),
            _data("mode", sl=slot.slot_id, s=slot.service_id, m=mode),
        )
        for mode in service.modes
    ]
    return BookingTurn((m.text(_t("choose_mode"), [*actions, _quit_action()]),))


def _on_mode(tap: _Tap) -> BookingTurn:
    slot_id = tap.get_int("sl")
    slot = tap.port.slot(slot_id) if slot_id is not None else None
    if slot is None:
        return _gone(tap, tap.fields.get("s"))
    mode = tap.fields.get("m", "")
    if mode not in _service(slot.service_id).modes:
        return _on_pick(tap)
    if mode == "phone":
        state = {"stage": "phone", "slot": slot.slot_id, "asked_at": tap.now.isoformat()}
        return BookingTurn((m.text(_t("ask_phone"), [_quit_action()]),), state=state)
    return _confirm_turn(slot, mode, None, tap.now)


_QUIT_WORDS = frozenset({"やめる", "やめます", "やめた", "キャンセル", "中止", "いいです"})


def _phone_typed(
    text: str, state: Mapping[str, Any], port: BookingPort, now: datetime
) -> BookingTurn | None:
    phone = normalise_phone(text)
    if phone is None:
        words = unicodedata.normalize("NFKC", text).strip()
        if words in _QUIT_WORDS:
            return BookingTurn((m.text(_t("quit")),))
        if sum(ch.isdigit() for ch in words) < 4:
            return None  # not a number at all: the conversation takes it (a worry, a question)
        keep = {**state, "asked_at": now.isoformat()}
        return BookingTurn((m.text(_t("bad_phone"), [_quit_action()]),), state=keep)
    try:
        slot = port.slot(int(state.get("slot", 0)))
    except (TypeError, ValueError):
        slot = None
    if slot is None:
        return BookingTurn((m.text(_t("flow_expired"), _service_actions()),))
    return _confirm_turn(slot, "phone", phone, now)


def _on_ok(tap: _Tap) -> BookingTurn:
    slot_id = tap.get_int("sl")
    key = tap.fields.get("k", "")
    mode = tap.fields.get("m", "")
    phone = normalise_phone(tap.fields["ph"]) if tap.fields.get("ph") else None
    if slot_id is None or not key or mode not in ("visit", "phone"):
        return _start()
    if mode == "phone" and phone is None:
        return _start()
    move = tap.get_int("mv")
    if move is not None:
        return BookingTurn(effects=(RescheduleBooking(move, slot_id, key),))
    return BookingTurn(effects=(BookSlot(slot_id, mode, phone, key, tap.summary),))


def _on_quit(tap: _Tap) -> BookingTurn:
    return BookingTurn((m.text(_t("quit")),))


def _list(port: BookingPort, *, only: str | None = None, lead: str | None = None) -> BookingTurn:
    bookings = [b for b in port.bookings_of() if b.status == "active"]
    if not bookings:
        book = m.postback(texts.label("booking_new"), _data(""))
        return BookingTurn((m.text(lead or _t("list_none"), [book, *_service_actions()]),))
    if only == "cancel" and len(bookings) == 1:
        return _cancel_ask(bookings[0])
    lines = [lead or _t("list_intro")]
    actions: list[Message] = []
    for b in bookings[:5]:
        name = service_name(b.service_id)
        lines.append(_t("list_item", when=slot_when(b.starts_at), name=name, reference=b.reference))
        short = short_when(b.starts_at)
        if only != "cancel":
            actions.append(
                m.postback(_t("change_label", short=short), _data("move", b=b.booking_id))
            )
        if only != "change":
            actions.append(
                m.postback(_t("cancel_label", short=short), _data("cancel_ask", b=b.booking_id))
            )
    lines.append(_t("list_actions"))
    actions.append(m.postback(texts.label("booking_new"), _data("")))
    return BookingTurn((m.text("\n".join(lines), actions),))


def _on_list(tap: _Tap) -> BookingTurn:
    return _list(tap.port)


def _cancel_ask(view: BookingView) -> BookingTurn:
    text = _t("cancel_ask", when=slot_when(view.starts_at), name=service_name(view.service_id))
    yes = m.postback(texts.label("booking_cancel_yes"), _data("cancel", b=view.booking_id))
    no = m.postback(texts.label("booking_cancel_no"), _data("keep"))
    return BookingTurn((card(text, text, [yes, no]),))


def _on_cancel_ask(tap: _Tap) -> BookingTurn:
    booking_id = tap.get_int("b")
    view = _find_booking(tap.port, booking_id) if booking_id else None
    if view is None:
        return _list(tap.port, lead=_t("not_found"))
    return _cancel_ask(view)


def _on_cancel(tap: _Tap) -> BookingTurn:
    booking_id = tap.get_int("b")
    if booking_id is None:
        return _list(tap.port)
    return BookingTurn(effects=(CancelBooking(booking_id, offer_new=True),))


def _on_keep(tap: _Tap) -> BookingTurn:
    return BookingTurn((m.text(_t("kept"), [_list_action()]),))


def _on_move(tap: _Tap) -> BookingTurn:
    booking_id = tap.get_int("b")
    view = _find_booking(tap.port, booking_id) if booking_id else None
    if view is None:
        return _list(tap.port, lead=_t("not_found"))
    lead = _t("move_intro", when=slot_when(view.starts_at))
    return _offer(view.service_id, tap.port, tap.now, move=view.booking_id, lead=lead)


_POSTBACKS = {
    "": _on_start,
    "svc": _on_service,
    "day": _on_day,
    "date": _on_day,
    "pick": _on_pick,
    "mode": _on_mode,
    "ok": _on_ok,
    "quit": _on_quit,
    "list": _on_list,
    "cancel_ask": _on_cancel_ask,
    "cancel": _on_cancel,
    "keep": _on_keep,
    "move": _on_move,
}


# ----------------------------------------------------------------------------- answers to effects
# Built here (pure) so all booking wording stays beside the dialogue; bot.actions.effects
# calls them with what the database returned.


def booked_messages(
    view: BookingView, *, rescheduled: bool = False, reminders: Sequence[str] = ()
) -> list[Message]:
    """The confirmation with the reference; says which reminders will come (`reminders`:
    the kinds actually scheduled, so a late booking promises nothing it cannot keep)."""
    name = service_name(view.service_id)
    how = how_text(view.service_id, view.mode, view.phone)
    key = "rescheduled" if rescheduled else "booked"
    lines = [_t(key, reference=view.reference, name=name, when=slot_when(view.starts_at), how=how)]
    kinds = set(reminders)
    note = "both" if kinds >= {"day_before", "morning_of"} else next(iter(kinds), None)
    if note is not None:
        lines.append(_t(f"reminder_note.{note}"))
    lines.append(_t("booked_footer"))
    return [m.text("\n".join(lines), [_list_action()])]


def staff_rescheduled_messages(view: BookingView) -> list[Message]:
    """Staff moved the booking: the new time, and how to change it again."""
    name = service_name(view.service_id)
    how = how_text(view.service_id, view.mode, view.phone)
    text = _t(
        "staff_rescheduled",
        reference=view.reference,
        name=name,
        when=slot_when(view.starts_at),
        how=how,
    )
    return [m.text(text, [_list_action()])]


def already_booked_messages(view: BookingView) -> list[Message]:
    return [m.text(_t("already_booked", reference=view.reference), [_list_action()])]


def too_many_messages() -> list[Message]:
    return [m.text(_t("too_many", count=MAX_ACTIVE_BOOKINGS), [_list_action()])]


def full_messages(
    service_id: str, alternatives: Sequence[SlotView], move: int | None = None
) -> list[Message]:
    """「埋まってしまいました」 with the nearest open slots as buttons."""
    if not alternatives:
        phone = _desk_phone()
        if phone:
            text = _t("full_no_alternatives", phone=phone)
        else:
            text = _t("full") + "\n" + _t("no_slots_without_phone")
        return [m.text(text, [_list_action()])]
    actions = [_slot_action(s, move) for s in alternatives[: QUICK_REPLY_MAX - 1]]
    return [m.text(_t("full"), [*actions, _quit_action()])]


def cancelled_messages(
    view: BookingView, alternatives: Sequence[SlotView], *, by_staff: bool = False
) -> list[Message]:
    """After a cancel: say so, and offer new times of the same service when there are any."""
    actions = [_slot_action(s, None) for s in alternatives[: QUICK_REPLY_MAX - 1]]
    if by_staff:
        text = _t(
            "staff_cancelled",
            when=slot_when(view.starts_at),
            name=service_name(view.service_id),
            reference=view.reference,
        )
        return [m.text(text, [*actions, _list_action()])]
    if not actions:
        return [m.text(_t("cancelled_no_offer", reference=view.reference))]
    return [m.text(_t("cancelled", reference=view.reference), [*actions, _quit_action()])]


def already_cancelled_messages() -> list[Message]:
    return [m.text(_t("already_cancelled"), [_list_action()])]


def stale_messages() -> list[Message]:
    """An old button (a booking since cancelled or moved): where the resident is, and the
    next steps (their bookings, a new booking)."""
    book = m.postback(texts.label("booking_new"), _data(""))
    return [m.text(texts.text("stale.tap"), [_list_action(), book])]


def not_found_messages() -> list[Message]:
    return [m.text(_t("not_found"), [_list_action()])]


def reminder_messages(view: BookingView, kind: str) -> list[Message]:
    """The reminder push: a card with a one-tap 「行けなくなった」 (cancel, then new times)."""
    name = service_name(view.service_id)
    when = slot_when(view.starts_at)
    how = how_text(view.service_id, view.mode, view.phone)
    key = "reminder_day_before" if kind == "day_before" else "reminder_morning_of"
    text = _t(key, name=name, when=when, how=how, reference=view.reference)
    alt = _t("reminder_alt", when=when, name=name, reference=view.reference)
    actions = [
        m.postback(texts.label("booking_cant_go"), _data("cancel", b=view.booking_id)),
        m.postback(texts.label("booking_see"), _data("list")),
    ]
    return [card(text, alt, actions)]


# ----------------------------------------------------------------------------- conversation seam


def book_action(window: Window, ctx: Context) -> Message | None:
    """The 「予約する」 button of a triage answer, or None (no port, or not bookable here)."""
    if ctx.booking is None or not window.bookable or not ctx.booking.can_book(window.id):
        return None
    return m.postback(texts.label("book"), pb.encode("book", w=window.id))


def _as_step(state: State, turn: BookingTurn) -> Step:
    from bot.conversation.machine import Step

    return Step(
        state.evolve(phase="idle", booking=dict(turn.state or {})),
        list(turn.messages),
        turn.effects,
    )


def handle(state: State, fields: dict[str, str], ctx: Context) -> Step | None:
    """`a=book…` postbacks from the conversation. None when there is no port."""
    if ctx.booking is None:
        return None
    turn = handle_postback(
        fields,
        {"date": fields["d"]} if fields.get("o") == "date" and "d" in fields else None,
        state.booking,
        port=ctx.booking,
        now=ctx.now,
        summary=state.summary or None,
    )
    return _as_step(state, turn)


def handle_text_step(state: State, text: str, ctx: Context) -> Step | None:
    """Typed text the booking dialogue takes (an awaited phone number, 「予約したい」 …),
    else None. The conversation calls this after its crisis check and its own flows."""
    if ctx.booking is None:
        return None
    turn = handle_text(text, state.booking, port=ctx.booking, now=ctx.now)
    return _as_step(state, turn) if turn is not None else None


def with_picked_date(data: str, params: Mapping[str, str]) -> str:
    """A date picker's postback with the picked date folded into its data (``d=``), so the
    conversation's plain field decoding carries it."""
    picked = params.get("date")
    if not picked or not is_booking_postback(data) or "&d=" in data:
        return data
    return f"{data}&{urlencode({'d': picked})}"
