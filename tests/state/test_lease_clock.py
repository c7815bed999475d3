"""One clock for leases: the database's. A replica whose own clock is 60 s off (its ``now``) neither steals a
live lease nor makes its own lease look expired, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.state import runs
from bot.state.db import Database, db_now
from bot.state.models import Incident, utcnow
from tests.state.test_runs import start

SKEW = dt.timedelta(seconds=60)


def test_a_replica_whose_clock_is_60s_fast_does_not_steal_a_live_lease(
    db: Database, replica, incident: Incident
) -> None:
    run = start(db, incident)
    assert runs.claim(db, "replica-a", 30).id == run.id  # replica A, on time, is running the rollback
    fast = replica()
    assert runs.claim(fast, "replica-b", 30, now=utcnow() + SKEW) is None, "A's lease is live for 30 s more"
    assert runs.sweep(fast, dt.timedelta(minutes=10), now=utcnow() + SKEW) == []
    held = runs.get_run(db, run.id)
    assert (held.lease_owner, held.attempts) == ("replica-a", 1), "nobody resumed it: nothing is patched twice"
    assert runs.heartbeat(db, run.id, "replica-a", 30)
    assert runs.finish(db, run.id, "verified", worker_id="replica-a")


def test_a_replica_whose_clock_is_60s_slow_keeps_its_own_lease(db: Database, replica, incident: Incident) -> None:
    run = start(db, incident)
    slow = replica()
    claimed = runs.claim(slow, "replica-a", 30, now=utcnow() - SKEW)
    assert claimed.id == run.id
    assert runs.claim(db, "replica-b", 30) is None, "to an on-time replica, the slow one's lease is live"
    lease_left = claimed.lease_expires_at - db.now()
    assert dt.timedelta(seconds=25) < lease_left <= dt.timedelta(seconds=30), "30 s of the database's clock"
    assert runs.heartbeat(slow, run.id, "replica-a", 30)
    assert runs.claim(db, "replica-b", 30, now=utcnow() + SKEW) is None
    assert runs.step(slow, run.id, "undo", "running", "patching", worker_id="replica-a").detail == "patching"
    assert runs.get_run(db, run.id).lease_owner == "replica-a"


def test_a_pending_run_is_not_expired_early_by_a_fast_replica(db: Database, replica, incident: Incident) -> None:
    queued = start(db, incident, now=utcnow() - dt.timedelta(seconds=30))  # waiting 30 s, no worker yet
    fast = replica()
    assert runs.sweep(fast, dt.timedelta(seconds=60), now=utcnow() + SKEW) == []
    assert runs.get_run(db, queued.id).status == "pending"


def test_database_time_comes_back_as_aware_utc(db: Database, incident: Incident, backend: str) -> None:
    databases = [db]
    if backend == "postgresql":  # a session in another time zone reads the same instants
        options = f"{db.url.query['options']} -c timezone=Asia/Kolkata"  # keeps the test's search_path
        kolkata = db.url.update_query_dict({"options": options})
        databases.append(Database(kolkata.render_as_string(hide_password=False)))
    run = start(db, incident)
    runs.claim(db, "replica-a", 30)
    try:
        for database in databases:
            now = database.now()
            assert now.tzinfo is dt.UTC and abs(now - utcnow()) < dt.timedelta(seconds=5)
            stored = runs.get_run(database, run.id)
            assert stored.heartbeat_at.tzinfo is dt.UTC and stored.created_at.tzinfo is dt.UTC
            assert stored.created_at <= stored.heartbeat_at <= now
    finally:
        for database in databases[1:]:
            database.dispose()


@pytest.mark.parametrize("seconds", [0.25, 30, -1.5])
def test_the_database_clock_adds_seconds_exactly(db: Database, seconds: float) -> None:
    base, later = db.transaction(lambda s: s.execute(select(db_now(), db_now(seconds))).one())
    assert later - base == dt.timedelta(seconds=seconds)
