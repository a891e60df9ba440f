"""The only code that writes to the database. One function = one concern, called inside a
`Database.write()` transaction that the caller owns (so several actions commit together)."""
