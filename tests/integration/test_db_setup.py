"""The database foundation: migrations run, SQLite is tuned on every connection."""

from __future__ import annotations

import fcntl
import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import IO

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


def _line(stream: IO[str], timeout: float) -> str:
    """The next line a child prints, waiting at most `timeout` seconds for it."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        return ""


@pytest.mark.integration
def test_sqlite_writers_of_two_processes_queue_on_the_file_lock(tmp_path: Path) -> None:
    """`serve --role web` and `--role worker` on one SQLite file: a writer of the other
    process waits on the flock (polled, so woken at once), not in SQLite's sleeping busy
    handler. The child says when the flock refused it; nothing here waits for a duration."""
    path = tmp_path / "two.db"
    database = Database.connect(f"sqlite:///{path}")
    other = textwrap.dedent(
        f"""
        import fcntl
        from sqlalchemy import text
        from bot.db import Database

        refused = []
        real_flock = fcntl.flock

        def flock(fd, operation):  # report the first time the other process holds it
            try:
                return real_flock(fd, operation)
            except BlockingIOError:
                if not refused:
                    print("waiting on the flock", flush=True)
                refused.append(operation)
                raise

        fcntl.flock = flock
        db = Database.connect("sqlite:///{path}")
        with db.write() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
        print(f"written after {{len(refused)}} refusals", flush=True)
        """
    )
    try:
        with database.write() as session:
            session.execute(text("CREATE TABLE t (n INTEGER)"))
        assert (tmp_path / "two.db-writelock").exists()
        with database.write() as session:  # holds the write lock while the other one starts
            session.execute(text("INSERT INTO t VALUES (1)"))
            # The flock is held during a write transaction.
            with (
                open(tmp_path / "two.db-writelock", "rb") as lock_file,
                pytest.raises(BlockingIOError),
            ):
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            child = subprocess.Popen(
                [sys.executable, "-c", other], stdout=subprocess.PIPE, text=True
            )
            assert child.stdout is not None
            # The signal: the child reached its write and the flock turned it away.
            assert _line(child.stdout, timeout=60) == "waiting on the flock"
            assert child.poll() is None  # still waiting for us
        out, _ = child.communicate(timeout=30)
        assert child.returncode == 0
        assert out.strip().startswith("written after ")  # it waited, then wrote
        assert int(out.split()[2]) >= 1
        with database.read() as session:
            assert session.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]
        with open(tmp_path / "two.db-writelock", "rb") as lock_file:  # and released after
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        database.dispose()
