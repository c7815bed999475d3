"""The append-only timeline the postmortem is written from."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.state import timeline
from bot.state.db import Database
from bot.state.incidents import create_incident
from bot.state.models import Incident

T0 = dt.datetime(2026, 3, 4, 10, 0, 0, 123456, tzinfo=dt.UTC)


def test_events_come_back_in_time_order_then_insertion_order(db: Database, incident: Incident) -> None:
    timeline.record(db, incident.id, "decision", "roll back", actor="U_ALICE", at=T0 + dt.timedelta(minutes=2))
    timeline.record(db, incident.id, "declared", "declared", actor="U_ALICE", at=T0)
    timeline.record(db, incident.id, "progress", "1/3", at=T0 + dt.timedelta(minutes=5))
    timeline.record(db, incident.id, "progress", "2/3", at=T0 + dt.timedelta(minutes=5))
    timeline.record(db, incident.id, "assessed", "high", at=T0 + dt.timedelta(microseconds=1))
    timeline.record(db, incident.id, "note", "same instant as declared", at=T0)
    other = create_incident(db, "payments", "pay", "slow", declared_by="U_BOB")
    timeline.record(db, other.id, "declared", "another incident", at=T0)
    texts = [e.text for e in timeline.events(db, incident.id)]
    assert texts == ["declared", "same instant as declared", "high", "roll back", "1/3", "2/3"]


def test_timestamps_are_utc_to_the_microsecond(db: Database, incident: Incident) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    timeline.record(db, incident.id, "note", "local time", at=T0.astimezone(paris))
    (event,) = timeline.events(db, incident.id)
    assert event.at == T0
    assert event.at.utcoffset() == dt.timedelta(0)
    assert event.at.microsecond == 123456


def test_default_timestamp_is_now_and_actor_is_the_bot(db: Database, incident: Incident) -> None:
    before = dt.datetime.now(dt.UTC)
    event = timeline.record(db, incident.id, "plan", "patch /spec/template", data={"revision": 3})
    after = dt.datetime.now(dt.UTC)
    (stored,) = timeline.events(db, incident.id)
    assert before <= stored.at <= after
    assert (stored.id, stored.actor, stored.kind, stored.data) == (event.id, "bot", "plan", {"revision": 3})


def test_a_naive_timestamp_is_refused(db: Database, incident: Incident) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        timeline.record(db, incident.id, "note", "when?", at=dt.datetime(2026, 1, 1))


def test_recorded_events_cannot_be_edited_or_deleted(db: Database, incident: Incident) -> None:
    timeline.record(db, incident.id, "verified", "pods ready")
    for statement in ("UPDATE timeline_events SET text = 'nothing happened'", "DELETE FROM timeline_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(text(statement))
    assert [e.text for e in timeline.events(db, incident.id)] == ["pods ready"]


def test_recording_survives_connections_the_server_dropped(
    db: Database, replica, incident: Incident, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("connection loss is a server-side event")
    connections = [db.engine.connect() for _ in range(2)]
    pids = [c.execute(text("SELECT pg_backend_pid()")).scalar() for c in connections]
    for conn in connections:
        conn.close()  # back to the pool, where they will be found dead
    with replica().engine.connect() as admin:
        for pid in pids:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    timeline.record(db, incident.id, "status_update", "rolling back")
    assert [e.text for e in timeline.events(db, incident.id)] == ["rolling back"]
