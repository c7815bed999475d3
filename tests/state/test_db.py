"""Migrations, connection settings and the transient-error retry rule."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.state import config_versions, runs, timeline, workers
from bot.state.db import MIGRATIONS, Database, SchemaBehind
from bot.state.models import Base, TimelineEvent
from bot.strategies.versions import Fingerprints, key_hashes

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "incidents", "timeline_events", "rollback_runs", "run_steps", "action_items", "status_updates", "workers", "pages"
}


def test_migrate_creates_the_tables_and_is_idempotent(fresh_url: str) -> None:
    db = Database(fresh_url)
    assert not TABLES & set(inspect(db.engine).get_table_names())
    db.migrate()
    db.migrate()  # every deploy's `rollback-bot migrate` calls it: the second time is a no-op
    inspector = inspect(db.engine)
    assert TABLES | {"alembic_version"} <= set(inspector.get_table_names())
    indexes = {ix["name"]: ix for ix in inspector.get_indexes("rollback_runs")}
    assert indexes["uq_rollback_runs_active_service"]["unique"]
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
    db.dispose()


def test_migration_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_replicas_starting_together_both_migrate(fresh_url: str) -> None:
    """Separate processes, as replicas are (alembic's own state is per process)."""
    code = "import sys; from bot.state.db import Database; Database(sys.argv[1]).migrate()"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, fresh_url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    failures = [p.stderr.read() for p in processes if p.wait(timeout=60) != 0]
    assert failures == []
    db = Database(fresh_url)
    assert TABLES <= set(inspect(db.engine).get_table_names())
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_an_event_for_an_unknown_incident_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError):
        timeline.record(db, 424242, "note", "orphan")


def test_session_rolls_back_when_the_block_fails(db: Database, incident) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        session.add(TimelineEvent(incident_id=incident.id, kind="note", text="half-done"))
        session.flush()
        raise RuntimeError("handler crashed")
    assert timeline.events(db, incident.id) == []


def test_a_dropped_connection_mid_transaction_is_retried(
    db: Database, replica, incident, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("connection loss is a server-side event")
    killer = replica()
    attempts: list[int] = []

    def write(session) -> None:
        attempts.append(1)
        if len(attempts) == 1:  # the server drops this very connection mid-transaction
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            with killer.engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        session.add(TimelineEvent(incident_id=incident.id, kind="note", text="survived"))

    db.transaction(write)
    assert len(attempts) == 2
    assert [e.text for e in timeline.events(db, incident.id)] == ["survived"]


def test_errors_that_are_not_transient_are_not_retried(db: Database) -> None:
    calls: list[int] = []

    def broken(session) -> None:
        calls.append(1)
        session.execute(select(text("no_such_column")).select_from(text("incidents")))

    with pytest.raises(DBAPIError):
        db.transaction(broken)
    assert calls == [1]


def test_sqlite_lock_held_by_another_process_delays_the_write_but_does_not_lose_it(
    db: Database, replica, incident, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    if backend != "sqlite":
        pytest.skip("file locking is SQLite's")
    impatient = replica(busy_timeout_ms=1)  # so the lock surfaces as "database is locked"
    holder = replica().engine.connect()
    holder.execute(  # BEGIN IMMEDIATE: this connection now holds the write lock
        text("INSERT INTO timeline_events (incident_id, at, kind, actor, text) "
             "VALUES (:id, '2026-01-01 00:00:00.000000', 'note', 'U_BOB', 'first')"),
        {"id": incident.id},
    )

    class ReleaseOnFirstFailure(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if holder.in_transaction():
                holder.commit()

    handler = ReleaseOnFirstFailure(level=logging.WARNING)
    logging.getLogger("bot.state.db").addHandler(handler)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.state.db"):
            timeline.record(impatient, incident.id, "progress", "2/3 new replicas available")
    finally:
        logging.getLogger("bot.state.db").removeHandler(handler)
        holder.close()
    assert "database is locked" in caplog.text
    assert [e.text for e in timeline.events(db, incident.id)] == ["first", "2/3 new replicas available"]


def test_migration_0004_erases_the_plain_secret_hashes_and_the_keyed_history_starts_afresh(fresh_url: str) -> None:
    """Secret rows of before keyed fingerprints keep when, who and which keys, lose their plain SHA-256
    (with which a copy of the database could check a guessed value), and are never compared again."""
    db = Database(fresh_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    plain = key_hashes({"token": "aHVudGVyMg=="})  # what 0003 stored: sha256 of "hunter2" in base64
    row = dict(namespace="pricing", name="pricing-credentials", resource_version="7", changed_keys=["token"],
               data=None, changed_by="kubectl-patch", changed_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
               seen_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    with db.engine.begin() as conn:
        table = Table("config_versions", MetaData(), autoload_with=conn)
        conn.execute(table.insert(), [
            {**row, "kind": "Secret", "keys": plain, "data_hash": "0" * 64},
            {**row, "kind": "ConfigMap", "name": "pricing-config", "keys": {"A": "x"}, "data_hash": "1" * 64},
        ])
    db.migrate()
    with db.engine.connect() as conn:
        rows = {r.kind: r for r in conn.execute(text("SELECT * FROM config_versions ORDER BY id"))}
    secret, configmap = rows["Secret"], rows["ConfigMap"]
    assert (secret.fingerprint_key, secret.data_hash, secret.changed_by) == ("unkeyed", "unkeyed-1", "kubectl-patch")
    assert plain["token"] not in str(secret.keys) and "token" in str(secret.keys)
    assert (configmap.fingerprint_key, configmap.data_hash) == ("", "1" * 64), "ConfigMaps are unaffected"

    prints = Fingerprints(b"k" * 32)
    assert config_versions.versions(db, "pricing", "Secret", "pricing-credentials", prints) == []
    live = {"metadata": {"namespace": "pricing", "name": "pricing-credentials", "resourceVersion": "9"},
            "data": {"token": "aHVudGVyMg=="}}
    first = config_versions.record(db, "Secret", live, prints)
    assert first is not None and first.data_hash != "0" * 64 and first.keys["token"] != plain["token"]
    assert [e.number for e in config_versions.history(db, "pricing", "Secret", "pricing-credentials", prints)
            .entries] == [1], "a keyed history of its own, never compared with the unkeyed row"
    db.dispose()


def _contents(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table but alembic's, in id order: what an upgrade must not lose."""
    with db.engine.connect() as conn:
        names = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
        return {
            name: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {name} ORDER BY 1"))] for name in names
        }


def test_an_upgrade_from_the_previous_revision_keeps_every_incident_and_run(fresh_url: str) -> None:
    """What `rollback-bot migrate` does at a deploy: the database of the release before, with its incidents."""
    db = Database(fresh_url)
    current, head = db.revisions()
    assert current is None and head == "0007"
    db.migrate("0006")  # the schema of the previous release
    with db.engine.begin() as conn:  # as the previous release wrote it: its columns only (no comms lead yet)
        conn.execute(
            text(
                "INSERT INTO incidents (key, key_year, key_seq, service, namespace, reason, status, declared_by, "
                "lead_user_id, created_at) VALUES ('INC-2026-001', 2026, 1, 'shopping-service', 'shop', "
                "'5xx spike', 'open', 'U_ALICE', 'U_ALICE', '2026-12-07 10:00:00')"
            )
        )
        incident_id = conn.execute(text("SELECT id FROM incidents")).scalar()
    timeline.record(db, incident_id, "declared", "Incident declared: 5xx spike", actor="U_ALICE")
    run = runs.start_run(
        db, incident_id, "shopping-service", "kubernetes", {"to_revision": 3}, {"steps": []}, "U_ALICE",
        ["pre_checks", "apply"],
    )
    runs.claim(db, "old-worker", 30)
    before = _contents(db)
    assert before["incidents"] and before["timeline_events"] and before["rollback_runs"] and before["run_steps"]
    with pytest.raises(SchemaBehind, match=r"at revision 0006; this bot needs revision 0007\. Run `rollback-bot "):
        db.check_schema()  # what serve and worker say before the deploy's migrate ran

    db.migrate()
    assert db.revisions() == ("0007", "0007")
    db.check_schema()
    after = _contents(db)
    assert after.pop("pages") == []  # 0007: the escalation pages
    added = [tuple(row[-3:]) for row in after["incidents"]]  # 0007: no comms lead, no deadline ping, no interval
    after["incidents"] = [row[:-3] for row in after["incidents"]]
    assert added == [(None, 0, None)] and after == before, "nothing lost, nothing changed"
    assert runs.get_run(db, run.id).lease_owner == "old-worker"
    workers.beat(db, "new-worker", 30)  # the new table works
    assert workers.live(db) == 1
    db.dispose()


def test_the_schema_check_names_a_new_database_and_lets_an_older_release_run_on_a_newer_schema(
    fresh_url: str, caplog
) -> None:
    db = Database(fresh_url)
    with pytest.raises(SchemaBehind, match=r"empty \(never migrated\); this bot needs revision 0007"):
        db.check_schema()
    db.migrate()
    with db.engine.begin() as conn:  # what a newer release's migration leaves behind, seen by this (older) one
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with caplog.at_level(logging.WARNING, logger="bot.state.db"):
        db.check_schema()  # a rolled-back bot must start: migrations keep the previous release working
    assert "revision 0099, newer than this bot knows (0007)" in caplog.text
    db.dispose()


def test_a_release_keeps_the_schema_it_was_first_seen_live_on(fresh_url: str) -> None:
    from bot.state import schema_versions

    db = Database(fresh_url)
    db.migrate()
    assert schema_versions.record(db, "shop", "shop:v1.2.4", 4, "flyway", "12")
    assert not schema_versions.record(db, "shop", "shop:v1.2.4", 6, "flyway", "14")  # seen again after an undo
    seen = schema_versions.seen(db, "shop")
    assert [(r.revision, r.version) for r in seen.values()] == [(4, "12")] and schema_versions.seen(db, "x") == {}
