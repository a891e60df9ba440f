"""The bot's read side: what the conversation and the actions look up, never a write.

Functions take the caller's session (an action reads inside its own transaction); the
ports for the pure conversation open short read sessions of their own.
"""
