"""The database foundation: migrations run, SQLite is tuned on every connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.db import Database


@pytest.mark.integration
def test_sqlite_connections_use_wal_and_busy_timeout(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite pragmas")
    for _ in range(3):  # several pooled connections, each tuned
        with database.read() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.integration
def test_migrations_reach_head(database: Database) -> None:
    with database.read() as session:
        version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version is not None
