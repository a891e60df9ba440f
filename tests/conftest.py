"""Shared fixtures. `database` gives each test a fresh, migrated database:
a real SQLite file by default, or a real PostgreSQL database created (and dropped) on the
server named by MARUGOTO_TEST_POSTGRES (e.g. postgresql+psycopg://postgres@127.0.0.1:5432)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db import Database, create_scratch_postgres, drop_scratch_postgres
from bot.migrate import upgrade

POSTGRES_SERVER = os.environ.get("MARUGOTO_TEST_POSTGRES", "").rstrip("/")
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of the engine under test (not migrated)."""
    if POSTGRES_SERVER:
        url = create_scratch_postgres(POSTGRES_SERVER, "marugoto_test")
        try:
            yield url
        finally:
            drop_scratch_postgres(url)
    else:
        yield f"sqlite:///{tmp_path / 'marugoto-test.db'}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A fresh database at the newest schema."""
    db = Database.connect(database_url)
    upgrade(db)
    try:
        yield db
    finally:
        db.dispose()
