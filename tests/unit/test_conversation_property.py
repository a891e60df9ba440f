"""Property: for any text or postback, in any state, at any time, `step` never raises and
returns 1–5 replies that LINE accepts (checked with the line-bot-sdk's own models and with
LINE's size limits), the last of which offers a next step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linebot.v3.messaging.models import Message

from bot.conversation import Context, State, Step, events, step, step_strict
from bot.conversation.messages import has_next_step, problems
from bot.conversation.state import PHASES
from knowledge.calendar import JST
from knowledge.windows import WINDOW_IDS
from triage.analysis import REPORTERS, URGENCIES, Analysis, Evidence, WindowScore

TIMES = [
    datetime(2026, 11, 24, 10, 0, tzinfo=JST),  # office hours
    datetime(2026, 11, 24, 2, 0, tzinfo=JST),  # night
    datetime(2026, 11, 28, 14, 0, tzinfo=JST),  # Saturday
    datetime(2026, 12, 31, 23, 59, tzinfo=JST),  # 年末年始
    datetime(2027, 2, 10, 8, 29, tzinfo=JST),  # a minute before opening, the 10th
]
SIGNALS = ["suicidal", "self_harm", "overdose", "violence_now", "other_in_danger", "idiom"]
PHRASES = [
    "家賃が払えない",
    "死にたい",
    "削除",
    "同意をやめる",
    "はい",
    "いいえ",
    "090-1234-5678",
    "メニュー",
    "兄がずっと部屋から出てこない",
    "",
    " ",
    "{}",
    "{desk}",
    "<script>",
    "a" * 6000,
]
ACTIONS = [
    "start",
    "cat",
    "write",
    "feel",
    "ibasho",
    "other",
    "menu",
    "book",
    "staff",
    "consent",
    "contact",
    "time",
    "withdraw",
    "erase",
    "??",
]
VALUES = ["money", "housing", "family", "hikikomori", "feelings", "neighbour", "rent", "yes"]
VALUES += ["no", "line", "phone", "am", "free", "hard", "ask", "neighbour_child", "", "x" * 80]

analyses = st.builds(
    Analysis,
    windows=st.lists(
        st.builds(
            WindowScore,
            id=st.sampled_from([*WINDOW_IDS, "no_such_window"]),
            score=st.floats(0, 1),
        ),
        max_size=5,
    ).map(tuple),
    urgency=st.sampled_from(URGENCIES),
    reporter=st.sampled_from(REPORTERS),
    clarify=st.booleans(),
    evidence=st.lists(
        st.builds(
            Evidence,
            window=st.sampled_from([*WINDOW_IDS, "crisis", "reporter"]),
            term=st.text(max_size=30),
            matched=st.text(max_size=30),
            weight=st.floats(0, 1),
            via=st.sampled_from(["lemma", "surface", "pattern"]),
        ),
        max_size=4,
    ).map(tuple),
    crisis_signals=st.lists(
        st.sampled_from([*SIGNALS, "suicidal:negated", "new_signal"]), max_size=3
    ).map(tuple),
)

texts = st.one_of(st.sampled_from(PHRASES), st.text(max_size=300))
postback_data = st.one_of(
    st.text(max_size=320),
    st.builds(
        lambda a, k, v: f"a={a}&k={k}&v={v}&m={v}",
        st.sampled_from(ACTIONS),
        st.sampled_from(VALUES),
        st.sampled_from(VALUES),
    ),
)
states = st.builds(
    State,
    phase=st.sampled_from(sorted(PHASES)),
    windows=st.lists(st.sampled_from(WINDOW_IDS), max_size=3).map(tuple),
    consent_version=st.none() | st.just("2026-11-22.1"),
    consent_given_at=st.none() | st.just(TIMES[0].isoformat()),
    contact_method=st.none() | st.sampled_from(["line", "phone", "fax"]),
    crisis_at=st.none() | st.just(TIMES[1].isoformat()) | st.just("not a time"),
)


def _returning(analysis: Analysis) -> Callable[[str], Analysis]:
    def analyse(_text: str) -> Analysis:
        return analysis

    return analyse


def check_replies(result: Step) -> None:
    assert 1 <= len(result.replies) <= 5, result.replies
    assert problems(result.replies) == []
    for reply in result.replies:
        Message.from_dict(reply)  # the SDK's generated models accept it
    assert has_next_step(result.replies[-1])


def quick_reply_data(result: Step) -> list[str]:
    items: list[dict[str, Any]] = result.replies[-1].get("quickReply", {}).get("items", [])
    return [i["action"]["data"] for i in items if i["action"]["type"] == "postback"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=states,
    data=st.data(),
    now=st.sampled_from(TIMES),
    n=st.integers(1, 6),
)
def test_any_input_sequence_gets_valid_replies_with_a_next_step(
    state: State, data: st.DataObject, now: datetime, n: int
) -> None:
    result: Step | None = None
    for _ in range(n):
        analysis = data.draw(analyses)
        ctx = Context(now=now, analyse=_returning(analysis))
        choices = quick_reply_data(result) if result else []
        kind = data.draw(
            st.sampled_from(["text", "postback", "tap"] if choices else ["text", "postback"])
        )
        if kind == "text":
            event: events.Event = events.Text(data.draw(texts))
        elif kind == "postback":
            event = events.Postback(data.draw(postback_data))
        else:
            event = events.Postback(data.draw(st.sampled_from(choices)))
        result = step_strict(state, event, ctx)
        check_replies(result)
        if result.urgent:
            assert "a=book" not in str(result.replies)
        state = State.from_json(result.state.to_json())  # the state survives JSON
        now += timedelta(minutes=data.draw(st.integers(0, 90)))


@settings(max_examples=100, deadline=None)
@given(state=states, text=texts, now=st.sampled_from(TIMES))
def test_a_failing_triage_still_gets_the_desk_and_a_24_hour_line(
    state: State, text: str, now: datetime
) -> None:
    def broken(_text: str) -> Analysis:
        raise RuntimeError("triage is down")

    result = step(state.evolve(phase="idle"), events.Text(text), Context(now=now, analyse=broken))
    check_replies(result)
    if text.strip() not in ("削除", "同意をやめる"):
        joined = str(result.replies)
        assert "042-386-0295" in joined and "0120-279-338" in joined


class _Port:
    """A small in-memory booking port: two open slots a day ahead, one booking."""

    def __init__(self, now: datetime) -> None:
        from bot.conversation.booking import BookingView, SlotView

        start = (now + timedelta(days=1)).astimezone(UTC)
        self.slots = [
            SlotView(
                i, service, start + timedelta(hours=i), start + timedelta(hours=i, minutes=50), 1
            )
            for i, service in ((1, "consultation"), (2, "ibasho"))
        ]
        self.bookings = [
            BookingView(
                7,
                "A-7",
                "consultation",
                self.slots[0].starts_at,
                self.slots[0].ends_at,
                "visit",
                None,
                "booked",
            )
        ]

    def can_book(self, window_id: str) -> bool:
        return True

    def available_slots(self, service_id: str, since: datetime, limit: int) -> list[Any]:
        return [s for s in self.slots if s.service_id == service_id][:limit]

    def slot(self, slot_id: int) -> Any:
        return next((s for s in self.slots if s.slot_id == slot_id), None)

    def bookings_of(self) -> list[Any]:
        return list(self.bookings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=states, data=st.data(), now=st.sampled_from(TIMES), n=st.integers(1, 6))
def test_with_a_booking_port_any_input_still_gets_valid_replies(
    state: State, data: st.DataObject, now: datetime, n: int
) -> None:
    result: Step | None = None
    for _ in range(n):
        analysis = data.draw(analyses)
        ctx = Context(now=now, analyse=_returning(analysis), booking=_Port(now))
        choices = quick_reply_data(result) if result else []
        kind = data.draw(
            st.sampled_from(["text", "postback", "tap", "tap"] if choices else ["text", "postback"])
        )
        if kind == "text":
            event: events.Event = events.Text(data.draw(texts))
        elif kind == "postback":
            event = events.Postback(data.draw(postback_data))
        else:
            event = events.Postback(data.draw(st.sampled_from(choices)))
        result = step_strict(state, event, ctx)
        assert len(result.replies) <= 5 and problems(result.replies) == []
        for reply in result.replies:
            Message.from_dict(reply)
        if result.urgent:
            assert "a=book" not in str(result.replies)
        state = State.from_json(result.state.to_json())
