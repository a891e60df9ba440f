"""Shared fixtures. `database` gives each test a fresh, migrated database:
a real SQLite file by default, or a real PostgreSQL database created (and dropped) on the
server named by MARUGOTO_TEST_POSTGRES (e.g. postgresql+psycopg://postgres@127.0.0.1:5432)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from bot.db import Database, create_scratch_postgres, drop_scratch_postgres
from bot.migrate import upgrade

# Hypothesis gives each example 200 ms of wall clock by default: on a busy machine that is
# a timing test in disguise. Properties are about results; speed is measured in bench/.
settings.register_profile("marugoto", deadline=None)
settings.load_profile("marugoto")

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every browser test carries the `e2e` marker (CI selects by it): a test under
    tests/e2e/, or one that asks for the real Chromium, without it is a collection error."""
    e2e = REPO_ROOT / "tests" / "e2e"
    unmarked = [
        item.nodeid
        for item in items
        if (item.path.is_relative_to(e2e) or "chromium" in getattr(item, "fixturenames", ()))
        and item.get_closest_marker("e2e") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"browser tests without the e2e marker: {', '.join(unmarked)}")
