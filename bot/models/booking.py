"""Slots, bookings and reminders (issue: booking). Filled by the booking work."""
