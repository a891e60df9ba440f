"""Booking under concurrency: throughput of the compare-and-swap booking path and the race
for the last seat, on SQLite (a fresh file) and PostgreSQL (a fresh database).

    .venv/bin/python -m bench.booking                       # SQLite only
    .venv/bin/python -m bench.booking --postgres postgresql+psycopg://postgres@127.0.0.1:5432

Each booking is one write transaction through `apply_booking_effect` (what the worker does
for a confirm tap): CAS on the slot, booking row, reminders, audit row. Threads stand in
for workers; each has its own session. Loopback only, bounded sizes.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update

from bot.actions import residents, slots
from bot.actions.effects import apply_booking_effect
from bot.conversation.effects import BookSlot
from bot.db import Database, create_scratch_postgres, drop_scratch_postgres
from bot.migrate import upgrade
from bot.models.booking import Booking, Slot
from bot.models.core import Resident

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # Tuesday 10:00 JST


@contextmanager
def fresh_database(kind: str, postgres: str | None) -> Iterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            db = Database.connect(f"sqlite:///{Path(folder) / 'bench.db'}")
            upgrade(db)
            try:
                yield db
            finally:
                db.dispose()
        return
    assert postgres is not None
    url = create_scratch_postgres(postgres, "marugoto_bench")
    db = Database.connect(url)
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
        drop_scratch_postgres(url)


def make_residents(db: Database, count: int, prefix: str) -> list[int]:
    with db.write() as session:
        return [
            residents.get_or_create(session, f"U{prefix}{i:05d}", now=NOW).id for i in range(count)
        ]


@dataclass
class Run:
    booked: int
    full: int
    other: int
    errors: int
    seconds: float
    latencies: list[float]


def run_bookings(db: Database, jobs: list[tuple[int, int]], threads: int) -> Run:
    """Each job (resident id, slot id) is one confirm tap, spread over `threads` workers."""
    queue = list(reversed(jobs))
    lock = threading.Lock()
    latencies: list[float] = []
    outcome = {"booked": 0, "full": 0, "other": 0, "errors": 0}
    start_line = threading.Barrier(threads)

    def worker() -> None:
        start_line.wait()
        while True:
            with lock:
                if not queue:
                    return
                resident_id, slot_id = queue.pop()
            began = time.perf_counter()
            try:
                with db.write() as session:
                    resident = session.get_one(Resident, resident_id)
                    effect = BookSlot(slot_id, "visit", None, uuid.uuid4().hex)
                    answer = apply_booking_effect(session, resident, effect, NOW)
                said = answer[0].get("text", "") if answer else ""
                key = (
                    "booked"
                    if "予約しました" in said
                    else "full"
                    if "埋まってしまいました" in said
                    else "other"
                )
            except Exception:
                key = "errors"
            elapsed = time.perf_counter() - began
            with lock:
                outcome[key] += 1
                latencies.append(elapsed)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    seconds = time.perf_counter() - began
    return Run(
        outcome["booked"], outcome["full"], outcome["other"], outcome["errors"], seconds, latencies
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def throughput(
    db: Database, residents_count: int, slots_count: int, capacity: int, threads: int
) -> None:
    with db.write() as session:
        slots.ensure_slots(session, NOW)
        slot_ids = list(
            session.scalars(
                select(Slot.id)
                .where(Slot.service_id == "consultation")
                .order_by(Slot.starts_at)
                .limit(slots_count)
            )
        )
        session.execute(update(Slot).where(Slot.id.in_(slot_ids)).values(capacity=capacity))
    people = make_residents(db, residents_count, "tp")
    rng = random.Random(7)
    jobs = [(person, rng.choice(slot_ids)) for person in people]
    run = run_bookings(db, jobs, threads)
    with db.read() as session:
        stored = session.scalar(select(func.count()).select_from(Booking)) or 0
        over = session.scalar(select(func.count()).where(Slot.booked_count > Slot.capacity)) or 0
    print(
        f"  throughput: {len(jobs)} taps on {len(slot_ids)} slots x{capacity}, {threads} threads: "
        f"{len(jobs) / run.seconds:.0f} taps/s, booked {run.booked}, full {run.full}, "
        f"other {run.other}, errors {run.errors}; "
        f"p50 {percentile(run.latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(run.latencies, 0.99) * 1000:.1f} ms; "
        f"rows {stored} (= booked: {stored == run.booked}), slots over capacity {over}"
    )


def race(db: Database, racers: int, capacity: int) -> None:
    with db.write() as session:
        slots.ensure_slots(session, NOW)
        slot_id = session.scalar(
            select(Slot.id)
            .where(Slot.service_id == "family_gathering")
            .order_by(Slot.starts_at)
            .limit(1)
        )
        assert slot_id is not None
        session.execute(update(Slot).where(Slot.id == slot_id).values(capacity=capacity))
    people = make_residents(db, racers, f"race{capacity}")
    run = run_bookings(db, [(p, slot_id) for p in people], racers)
    with db.read() as session:
        stored = session.scalar(
            select(func.count()).where(Booking.slot_id == slot_id, Booking.status == "active")
        )
        counted = session.scalar(select(Slot.booked_count).where(Slot.id == slot_id))
    verdict = "OK" if stored == counted == capacity == run.booked and run.errors == 0 else "FAIL"
    print(
        f"  race: {racers} residents for {capacity} seat(s): booked {run.booked}, "
        f"full {run.full}, errors {run.errors}, rows {stored}, booked_count {counted} "
        f"in {run.seconds * 1000:.0f} ms -> {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="PostgreSQL server URL (a fresh database is made)")
    parser.add_argument("--residents", type=int, default=600)
    parser.add_argument("--slots", type=int, default=60)
    parser.add_argument("--capacity", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    kinds = ["sqlite", *(["postgresql"] if args.postgres else [])]
    for kind in kinds:
        print(kind)
        for threads in sorted({1, args.threads}):
            with fresh_database(kind, args.postgres) as db:
                throughput(db, args.residents, args.slots, args.capacity, threads)
        for capacity in (1, 5):
            with fresh_database(kind, args.postgres) as db:
                race(db, 20, capacity)
        with fresh_database(kind, args.postgres) as db:
            race(db, 50, 1)


if __name__ == "__main__":
    main()
