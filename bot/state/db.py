"""Engine, sessions, migrations and the retry rule for the bot's state.

SQLite (the default) and PostgreSQL behave the same from the callers' side:
- SQLite runs in WAL mode with a busy timeout, foreign keys on, and every transaction
  starts with ``BEGIN IMMEDIATE`` so writers queue on the lock instead of failing on a
  read-to-write upgrade;
- every writer goes through :meth:`Database.transaction`, which re-runs the whole transaction
  on transient errors (lost connection, "database is locked", serialization failure,
  deadlock), so an event the bot recorded is not lost to a blip.

Leases are written and compared in the database's clock (``db_now``), never a replica's: two
replicas whose clocks disagree still agree on whose lease is live.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, literal, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement

from bot.state.models import UTCDateTime

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_URL = "sqlite:///rollback-bot.db"
MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises `migrate()` across replicas on PostgreSQL (the key is any constant bigint).
MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(7302118905431)")

# PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock, the server
# shutting down or refusing connections for a moment; class 08 is "connection exception".
_TRANSIENT_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03"}
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_transient(exc: BaseException) -> bool:
    """True when re-running the same transaction may well succeed."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate and (sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith("08")):
        return True
    message = str(orig).lower()
    return any(text_ in message for text_ in _SQLITE_BUSY)


def retry_transient(fn: Callable[[], T], attempts: int = 8, base_delay: float = 0.05) -> T:
    """Call ``fn`` until it succeeds, retrying transient DB errors with capped exponential backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except DBAPIError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            delay = min(1.0, base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log.warning("transient database error (attempt %d/%d), retrying in %.2fs: %s",
                        attempt, attempts, delay, exc.orig)
            time.sleep(delay)
    raise AssertionError("unreachable")


class db_now(FunctionElement):  # noqa: N801 - an SQL function, named like one
    """The database's clock, ``seconds`` from now, as an SQL expression that comes back as aware UTC.

    Evaluated by the database in the statement that uses it, so every replica reads the same clock.
    SQLite: ``strftime`` in the storage format of :class:`UTCDateTime` (microseconds, so stored values
    and this compare as text); PostgreSQL: ``statement_timestamp()``, a ``timestamptz``.
    """

    type = UTCDateTime()
    inherit_cache = True
    name = "db_now"

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__(literal(float(seconds)))


@compiles(db_now)
def _db_now_postgresql(element: db_now, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    return f"(statement_timestamp() + make_interval(secs => {compiler.process(element.clauses, **kw)}))"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    seconds = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', {seconds} || ' seconds') || '000')"


class Database:
    """One engine and its session factory; objects stay readable after their session closes."""

    def __init__(
        self, url: str = DEFAULT_URL, *, busy_timeout_ms: int = 5000, retry_attempts: int = 8
    ) -> None:
        self.url = make_url(url)
        self.retry_attempts = retry_attempts
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        options: dict = {"future": True}
        if self.is_postgres:
            options["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block succeeds, rolled back when it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def transaction(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in its own transaction, re-running the whole transaction on transient errors."""

        def once() -> T:
            with self.session() as session:
                return fn(session)

        return retry_transient(once, attempts=self.retry_attempts)

    def now(self) -> dt.datetime:
        """The database's clock (aware UTC): the one clock of leases, whatever this replica's says."""
        return self.transaction(lambda session: session.scalar(select(db_now())))

    def ping(self) -> None:
        """One ``SELECT 1``, not retried: a readiness probe wants the answer now, not after the backoff."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (the newest); safe when several processes run it at once."""
        from alembic import command  # imported here: alembic costs ~1 s of start-up otherwise

        config = _alembic_config()

        def upgrade() -> None:
            with self.engine.begin() as connection:
                if self.is_postgres:
                    # Held until this transaction commits: a second replica waits, then finds head.
                    connection.execute(MIGRATION_LOCK)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)

        retry_transient(upgrade, attempts=self.retry_attempts)

    def revisions(self) -> tuple[str | None, str]:
        """(the database's schema revision (None: never migrated), the newest this code knows)."""
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""

        def current() -> str | None:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()

        return retry_transient(current, attempts=self.retry_attempts), head

    def check_schema(self) -> None:
        """Raise :class:`SchemaBehind` when the schema is older than this code; a newer one (this bot was
        rolled back past a migration) is only logged: migrations keep the previous release working."""
        from alembic.script import ScriptDirectory

        current, head = self.revisions()
        if current == head:
            return
        known = {rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
        if current is not None and current not in known:
            log.warning("the database schema is at revision %s, newer than this bot knows (%s): "
                        "an older release runs on a newer schema", current, head)
            return
        raise SchemaBehind(current, head)

    def dispose(self) -> None:
        self.engine.dispose()


class SchemaBehind(Exception):
    """The database's schema is older than the code: the deploy's ``rollback-bot migrate`` has not run."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        where = f"at revision {current}" if current else "empty (never migrated)"
        super().__init__(
            f"the database schema is {where}; this bot needs revision {head}. Run `rollback-bot migrate` once "
            "(the deploy's init container or release step does), or set MIGRATE_ON_START=true for a single "
            "instance or a development database."
        )


def _alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")
