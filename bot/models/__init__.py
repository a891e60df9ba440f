"""All tables. Importing this package registers every model on `Base.metadata`.

One module per concern: core (residents, inbox, conversation, outbox, handoffs, consent,
audit), booking (slots, bookings, reminders), staff (accounts, sessions)."""

from bot.models import booking, core, staff
from bot.models.base import Base, UTCDateTime, utcnow

__all__ = ["Base", "UTCDateTime", "booking", "core", "staff", "utcnow"]
