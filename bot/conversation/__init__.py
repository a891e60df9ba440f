"""The conversation: a pure state machine (state + event → new state + replies + effects).

    from bot.conversation import State, Context, Step, step, events
    result = step(State.from_json(stored), events.Text("家賃が払えない"), Context(now=now))

No database, no HTTP, no LINE SDK here; imports triage and knowledge only. All wording is
in the text store (bot/conversation/texts, checked at import); the crisis policy is in
bot.conversation.crisis.
"""

from bot.conversation import effects, events
from bot.conversation.booking import BookingPort
from bot.conversation.machine import Context, Step, fallback, step, step_strict
from bot.conversation.state import State

__all__ = [
    "BookingPort",
    "Context",
    "State",
    "Step",
    "effects",
    "events",
    "fallback",
    "step",
    "step_strict",
]
