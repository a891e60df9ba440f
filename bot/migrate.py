"""Bring a database to the newest schema with Alembic (`marugoto db upgrade`, app start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Upgrade in one transaction. Safe to call on every start: a no-op when current."""
    config = alembic_config()
    # The write engine: on SQLite its BEGIN IMMEDIATE keeps two starting processes apart.
    with database.write_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
