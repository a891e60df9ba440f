"""Shared fixtures. `database` gives each test a fresh, migrated database:
a real SQLite file by default, or a real PostgreSQL database created (and dropped) on the
server named by MARUGOTO_TEST_POSTGRES (e.g. postgresql+psycopg://postgres@127.0.0.1:5432)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.db import Database
from bot.migrate import upgrade

POSTGRES_SERVER = os.environ.get("MARUGOTO_TEST_POSTGRES", "").rstrip("/")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _fresh_postgres_url() -> str:
    name = f"marugoto_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{POSTGRES_SERVER}/{name}"


def _drop_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of the engine under test (not migrated)."""
    if POSTGRES_SERVER:
        url = _fresh_postgres_url()
        try:
            yield url
        finally:
            _drop_postgres(url)
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
