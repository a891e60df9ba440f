"""Read-only queries of the staff UI (writes go through bot.actions)."""
