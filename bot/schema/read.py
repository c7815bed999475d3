"""The schema version of a database as its migration tool recorded it, read with SQLAlchemy, read-only.

- Flyway: ``flyway_schema_history``, successful versioned rows in ``installed_rank`` order;
- Liquibase: ``DATABASECHANGELOG``, in ``ORDEREXECUTED`` order (the version is the last changeset's id);
- Alembic: ``alembic_version`` holds only the head, so the migrations between two versions are not listed.

A database that cannot be read gives ``Schema(version=None, unknown=why)``: "schema unknown", never "no
migrations". The URL is never logged or shown: errors name the environment variable it came from.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import sqlalchemy as sa

from bot.config.database import DatabaseRef

CONNECT_TIMEOUT = 5  # seconds: a database that does not answer is "schema unknown", not a stalled plan


@dataclass(frozen=True)
class Migration:
    version: str
    description: str
    installed_on: str = ""  # ISO time, "" when the tool does not record it
    by: str = ""

    def title(self, tool: str) -> str:
        return f"{label(tool, self.version)} {self.description}".strip()


@dataclass(frozen=True)
class Schema:
    tool: str
    version: str | None  # the latest successful migration; None: unknown
    migrations: tuple[Migration, ...] = ()  # in the order they were applied (empty for alembic: only the head)
    unknown: str = ""  # why it could not be read

    @property
    def title(self) -> str:
        return label(self.tool, self.version) if self.version else "schema unknown"


def label(tool: str, version: str | None) -> str:
    """Flyway's versions read ``V12``; a Liquibase changeset id or an Alembic revision as it is."""
    if not version:
        return "schema unknown"
    return f"V{version}" if tool == "flyway" else version


def read_service_schema(ref: DatabaseRef) -> Schema:
    url = os.environ.get(ref.url_env, "")
    if not url:
        return Schema(ref.migrations, None, unknown=f"{ref.url_env} is not set in the bot's environment")
    return read_schema(url, ref.migrations, f"the database in {ref.url_env}")


def read_schema(url: str, tool: str, name: str = "the database") -> Schema:
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=_timeout(url))
    except (sa.exc.ArgumentError, ImportError, ValueError) as exc:
        return Schema(tool, None, unknown=f"{name}: its URL cannot be used ({type(exc).__name__})")
    try:
        with engine.connect() as conn:
            return _READERS[tool](conn, tool)
    except LookupError as exc:
        return Schema(tool, None, unknown=f"{name}: {exc}")
    except sa.exc.SQLAlchemyError as exc:
        return Schema(tool, None, unknown=f"{name} could not be read ({type(exc.orig or exc).__name__})")
    finally:
        engine.dispose()


def _timeout(url: str) -> dict:
    backend = sa.engine.make_url(url).get_backend_name()
    return {"connect_timeout": CONNECT_TIMEOUT} if backend in ("postgresql", "mysql", "mariadb") else {}


def _table(conn: sa.Connection, wanted: str) -> str:
    """The table's name as the database spells it (Liquibase's is upper case on MySQL, lower on PostgreSQL)."""
    for found in sa.inspect(conn).get_table_names():
        if found.lower() == wanted.lower():
            return found
    raise LookupError(f"it has no {wanted} table")


def _when(value: object) -> str:
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, dt.datetime) else str(value or "")


def _flyway(conn: sa.Connection, tool: str) -> Schema:
    t = sa.table(_table(conn, "flyway_schema_history"), *map(sa.column, _FLYWAY))
    rows = conn.execute(
        sa.select(*t.c).where(t.c.success.is_(True), t.c.version.is_not(None)).order_by(t.c.installed_rank)
    )
    found = tuple(Migration(str(r.version), r.description, _when(r.installed_on), r.installed_by or "") for r in rows)
    return _schema(tool, found, "flyway_schema_history")


def _liquibase(conn: sa.Connection, tool: str) -> Schema:
    name = _table(conn, "databasechangelog")
    cols = {c["name"].lower(): c["name"] for c in sa.inspect(conn).get_columns(name)}
    t = sa.table(name, *(sa.column(cols[c]) for c in _LIQUIBASE))
    c = {k: t.c[cols[k]] for k in _LIQUIBASE}
    rows = conn.execute(sa.select(*t.c).order_by(c["orderexecuted"]))
    found = tuple(
        Migration(str(r[0]), str(r[2] or r[1] or ""), _when(r[3]), str(r[4] or ""))
        for r in (tuple(row._mapping[c[k]] for k in ("id", "filename", "description", "dateexecuted", "author"))
                  for row in rows)
    )  # fmt: skip
    return _schema(tool, found, name)


def _alembic(conn: sa.Connection, tool: str) -> Schema:
    t = sa.table(_table(conn, "alembic_version"), sa.column("version_num"))
    heads = sorted(str(v) for v in conn.execute(sa.select(t.c.version_num)).scalars())
    if not heads:
        return Schema(tool, None, unknown="alembic_version is empty")
    return Schema(tool, "+".join(heads))


def _schema(tool: str, found: tuple[Migration, ...], table: str) -> Schema:
    if not found:
        return Schema(tool, None, unknown=f"{table} records no successful migration")
    return Schema(tool, found[-1].version, found)


_FLYWAY = ("installed_rank", "version", "description", "installed_on", "installed_by", "success")
_LIQUIBASE = ("id", "filename", "description", "dateexecuted", "author", "orderexecuted")
_READERS = {"flyway": _flyway, "liquibase": _liquibase, "alembic": _alembic}
