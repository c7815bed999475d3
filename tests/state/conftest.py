"""Every state test runs against SQLite (a temp file) and PostgreSQL (a throw-away schema).

PostgreSQL is the server at ``STATE_TEST_PG_URL`` (default: trust auth on loopback). Each
test session works in its own schema, dropped at the end, so parallel runs do not collide.
Without a reachable server the PostgreSQL half is skipped, unless REQUIRE_REAL_SERVICES=1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from bot.state.db import Database
from bot.state.incidents import create_incident
from bot.state.models import Incident

TABLES = "incidents, timeline_events, plans, rollback_runs, run_steps, action_items, status_updates, people, workers"


@pytest.fixture(scope="session")
def pg_database(pg_schema_url: Callable[[], str]) -> Iterator[Database]:
    """One migrated PostgreSQL schema for the session; tests start from empty tables."""
    db = Database(pg_schema_url())
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fresh_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty, unmigrated database of the current backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return request.getfixturevalue("pg_schema_url")()


@pytest.fixture
def db(backend: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated, empty database of the current backend."""
    if backend == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'state.db'}")
        database.migrate()
        yield database
        database.dispose()
        return
    database = request.getfixturevalue("pg_database")
    with database.session() as session:
        session.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield database


@pytest.fixture
def replica(db: Database) -> Iterator[Callable[..., Database]]:
    """Factory: another Database (own engine and pool) on the same data, as a second bot process."""
    made: list[Database] = []

    def make(**options: int) -> Database:
        other = Database(db.url.render_as_string(hide_password=False), **options)
        made.append(other)
        return other

    yield make
    for other in made:
        other.dispose()


@pytest.fixture
def incident(db: Database) -> Incident:
    return create_incident(db, "shopping-service", "shop", "5xx spike", declared_by="U_ALICE")
