"""Staff accounts, sessions and login throttling (issue: staff side)."""
