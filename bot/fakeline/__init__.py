"""A fake LINE Messaging API for tests, benchmarks and demo mode.

It validates every request as LINE would (the SDK's request models, LINE's documented limits,
and LINE's OpenAPI file when ../shared/line-openapi is present), keeps X-Line-Retry-Key and
reply-token semantics, records what each user would see, and injects faults on request.
Never used against the real LINE; production code imports it only in demo mode.
"""

from bot.fakeline.app import create_fake_line_app
from bot.fakeline.server import FakeLine
from bot.fakeline.state import ChatMessage, Delivery, FakeLineState, RequestRecord, Violation

__all__ = [
    "ChatMessage",
    "Delivery",
    "FakeLine",
    "FakeLineState",
    "RequestRecord",
    "Violation",
    "create_fake_line_app",
]
