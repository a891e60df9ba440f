"""Demo mode: the built-in fake LINE and the `/simulator` page (MARUGOTO_DEMO=1).

The page is a phone-sized chat. What you type or tap becomes a LINE webhook event, signed
with the channel secret and POSTed over HTTP to the app's own `/line/webhook` — the same
path a real LINE event takes (signature check, inbox, worker, conversation, outbox, sender).
The answers are read back from the fake LINE API, exactly as they were sent to it, and drawn
the way LINE shows them (text, quick replies, Flex bubbles and carousels, buttons).

Wiring (bot/app.py):

    if settings.demo:
        settings = demo_settings(settings)          # starts the fake LINE, points at it
    ...
    if settings.demo and role in ("all", "web"):
        app.include_router(router(settings))
"""

from bot.simulator.demo import demo_settings
from bot.simulator.routes import router

__all__ = ["demo_settings", "router"]
