"""The workers' own heartbeats, in the database's clock: one row per running worker.

A run's lease says a worker holds that run; this says a worker is running at all, busy or idle, so a web
replica can tell (``GET /readyz``) that a confirmed rollback will be picked up.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.state.db import Database, db_now
from bot.state.models import WorkerBeat


def beat(db: Database, worker_id: str, lease_seconds: float) -> None:
    """Record that ``worker_id`` is alive now (its row made on the first beat)."""

    def write(session: Session) -> None:
        renewed = session.execute(
            update(WorkerBeat)
            .where(WorkerBeat.id == worker_id)
            .values(heartbeat_at=db_now(), lease_seconds=lease_seconds)
        ).rowcount
        if not renewed:
            session.add(
                WorkerBeat(id=worker_id, started_at=db_now(), heartbeat_at=db_now(), lease_seconds=lease_seconds)
            )

    db.transaction(write)


def leave(db: Database, worker_id: str) -> None:
    """A worker that stops cleanly says so: readiness does not wait a lease to notice."""
    db.transaction(lambda session: session.execute(delete(WorkerBeat).where(WorkerBeat.id == worker_id)))


def live(db: Database) -> int:
    """How many workers renewed their heartbeat within their own lease."""
    def count(session: Session) -> int:
        rows = session.execute(select(WorkerBeat.heartbeat_at, WorkerBeat.lease_seconds, db_now())).all()
        return sum(1 for at, lease, now in rows if now - at <= dt.timedelta(seconds=lease))

    return db.transaction(count)


def newest_age(db: Database) -> float | None:
    """Seconds since the newest heartbeat of any worker (None: no worker ever ran, or all stopped)."""

    def read(session: Session) -> float | None:
        row = session.execute(select(func.max(WorkerBeat.heartbeat_at), db_now())).one()
        return None if row[0] is None else (row[1] - row[0]).total_seconds()

    return db.transaction(read)
