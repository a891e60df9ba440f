"""Database engines and sessions for SQLite (default) and PostgreSQL (psycopg 3).

SQLite is tuned on *every* pooled connection (WAL, busy_timeout, foreign keys) and every write
transaction starts with BEGIN IMMEDIATE, so two writers never deadlock on a lock upgrade
("database is locked"). Reads use a separate engine with plain deferred BEGIN so they never
take the write lock. On PostgreSQL both are the same engine.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Select, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

try:
    import fcntl
except ImportError:  # Windows has no flock: SQLite's busy handler alone serialises processes
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` / `postgres://` URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# --- the few places SQLite and PostgreSQL differ (everything else is one SQL) ----------------


def is_postgresql(bind: Session | Connection | Engine) -> bool:
    """Whether this session, connection or engine talks to PostgreSQL (else SQLite)."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return bind.dialect.name == "postgresql"


def insert_or_ignore(table: Table, *, conflict: list[str], postgres: bool) -> Insert:
    """INSERT … ON CONFLICT (`conflict`) DO NOTHING: both dialects spell it alike, but each
    needs its own construct. Hot statements are built once per dialect with this."""
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=conflict)


def skip_locked(query: Select[Any], *, postgres: bool) -> Select[Any]:
    """Rows chosen for a claim: on PostgreSQL locked FOR UPDATE SKIP LOCKED, so two claimers
    never take the same row; SQLite needs nothing, its BEGIN IMMEDIATE serialises writers."""
    return query.with_for_update(skip_locked=True) if postgres else query


def _tune_sqlite(engine: Engine, *, immediate: bool) -> None:
    file_lock = _FileLock.beside(engine.url.database) if immediate else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's events, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Writers of this process queue on an in-process lock before BEGIN IMMEDIATE: SQLite's
    # own busy handler waits in sleeps of up to 100 ms, which made webhook acks slow
    # whenever the worker was writing. Webhook ingest (`ingest_priority()`) goes first.
    # Other processes still meet busy_timeout.
    write_lock = _WriteLock()
    if immediate:
        _WRITE_LOCKS[engine] = write_lock

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        urgent = bool(getattr(_priority, "on", False))
        if immediate and write_lock.acquire(urgent, SQLITE_BUSY_TIMEOUT_MS / 1000):
            conn.info["marugoto_write_lock"] = True
            if file_lock is not None and file_lock.acquire(SQLITE_BUSY_TIMEOUT_MS / 1000):
                conn.info["marugoto_file_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("marugoto_file_lock", False) and file_lock is not None:
            file_lock.release()
        if conn.info.pop("marugoto_write_lock", False):
            write_lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)


_priority = threading.local()
#: The in-process write lock of each SQLite write engine (see Database.ingest_waiting).
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, _WriteLock] = weakref.WeakKeyDictionary()


@contextmanager
def ingest_priority() -> Iterator[None]:
    """Write transactions begun in this block (this thread) take the SQLite write lock before
    any waiting non-priority writer: the webhook must answer LINE fast."""
    _priority.on = True
    try:
        yield
    finally:
        _priority.on = False


class _FileLock:
    """An exclusive `flock` on `<database file>-writelock`, taken after the in-process lock.

    With `serve --role web` and `--role worker` as two processes, writers of the other
    process would otherwise meet SQLite's busy handler, which sleeps in steps of up to
    100 ms: a webhook ack waited that long behind a worker's 3 ms transaction. A held flock
    is polled in sub-millisecond steps instead, and the kernel drops it if its process dies.
    If the lock cannot be had within the timeout, the writer goes ahead and SQLite's own
    busy_timeout decides (so a stuck process cannot block the others forever).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._opened = threading.Lock()

    @classmethod
    def beside(cls, database: str | None) -> _FileLock | None:
        if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
            return None
        return cls(database + "-writelock")

    def _descriptor(self) -> int | None:
        with self._opened:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                except OSError:
                    return None  # a read-only directory: SQLite's busy handler alone
            return self._fd

    def acquire(self, timeout: float) -> bool:
        assert fcntl is not None
        fd = self._descriptor()
        if fd is None:
            return False
        deadline = time.monotonic() + timeout
        pause = 0.0001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.001)

    def release(self) -> None:
        assert fcntl is not None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


class _WriteLock:
    """A lock where priority acquirers overtake waiting ordinary ones."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held = False
        self._priority_waiting = 0

    def acquire(self, priority: bool, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._condition:
            if priority:
                self._priority_waiting += 1
            try:
                while self._held or (not priority and self._priority_waiting):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._condition.wait(remaining)
                self._held = True
                return True
            finally:
                if priority:
                    self._priority_waiting -= 1

    @property
    def priority_waiting(self) -> bool:
        return self._priority_waiting > 0

    def release(self) -> None:
        with self._condition:
            self._held = False
            self._condition.notify_all()


def _json_dumps(value: Any) -> str:
    """JSON columns (event payloads, states, triage, outbox messages) with orjson: the
    stdlib encoder was ~6 % of the service's CPU per answered event (bench/webhook.py).
    Non-string keys become strings, as json.dumps would make them."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    url = normalise_url(url)
    json_args: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=8,
            **json_args,
        )
        _tune_sqlite(engine, immediate=immediate)
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **json_args)


@dataclass
class Database:
    """The two ways code touches the database: `write()` and `read()` sessions."""

    url: str
    write_engine: Engine
    read_engine: Engine

    @classmethod
    def connect(cls, url: str) -> Database:
        url = normalise_url(url)
        write_engine = make_engine(url, immediate=True)
        read_engine = make_engine(url, immediate=False) if is_sqlite(url) else write_engine
        return cls(url=url, write_engine=write_engine, read_engine=read_engine)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    def ingest_waiting(self) -> bool:
        """True while a webhook insert of this process waits for the SQLite write lock: a
        long write transaction should commit at its next safe point and let it in. Always
        False on PostgreSQL, where writers do not wait for one another."""
        lock = _WRITE_LOCKS.get(self.write_engine)
        return lock is not None and lock.priority_waiting

    @cached_property
    def _write_sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.write_engine, expire_on_commit=False)

    @cached_property
    def _read_sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session
            session.rollback()

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def create_scratch_postgres(server: str, prefix: str) -> str:
    """A new empty PostgreSQL database on `server` (a URL without a database name) for a
    test or a benchmark run; returns its URL. Drop it with `drop_scratch_postgres`."""
    server = normalise_url(server).rstrip("/")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return f"{server}/{name}"


def drop_scratch_postgres(url: str) -> None:
    """Drop a database made by `create_scratch_postgres`, its connections too."""
    server, name = normalise_url(url).rsplit("/", 1)
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
