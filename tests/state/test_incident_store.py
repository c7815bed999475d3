"""Incident keys and look-ups."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.exc import IntegrityError

from bot.state.db import Database
from bot.state.incidents import create_incident, get_incident, open_incident_for_service, update_incident
from bot.state.models import Incident

UTC = dt.UTC


def at(year: int, month: int = 6, day: int = 1, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def declare(db: Database, now: dt.datetime | None = None, service: str = "shopping-service") -> Incident:
    return create_incident(db, service, "shop", "checkout failing", declared_by="U_ALICE", now=now)


def test_keys_count_up_within_a_year_and_restart_each_year(db: Database) -> None:
    assert declare(db, at(2026, 1, 1, 0)).key == "INC-2026-001"
    assert declare(db, at(2026, 12, 31, 23)).key == "INC-2026-002"
    assert declare(db, at(2027, 1, 1, 0)).key == "INC-2027-001"
    assert declare(db, at(2026, 12, 31, 23)).key == "INC-2026-003"
    # The year is the UTC one: 00:30 in UTC+02:00 on New Year's Day is still the old year in UTC.
    local_new_year = dt.datetime(2028, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert declare(db, local_new_year).key == "INC-2027-002"


def test_keys_keep_growing_past_999(db: Database) -> None:
    with db.session() as session:
        session.add(Incident(key="INC-2026-999", key_year=2026, key_seq=999, service="old", namespace="",
                             reason="", status="resolved", declared_by="U_X", created_at=at(2026)))
    assert declare(db, at(2026)).key == "INC-2026-1000"
    assert declare(db, at(2026)).key == "INC-2026-1001"


def test_a_new_incident_is_open_and_led_by_whoever_declared_it(db: Database) -> None:
    incident = declare(db, at(2026))
    assert (incident.status, incident.lead_user_id, incident.declared_by) == ("open", "U_ALICE", "U_ALICE")
    assert incident.created_at == at(2026)
    assert (incident.action_items, incident.status_updates) == ([], [])  # readable outside any session


def test_updates_are_saved_and_keys_cannot_be_rewritten(db: Database) -> None:
    incident = declare(db, at(2026))
    updated = update_incident(db, incident.id, status="resolved", card_ts="1712.0001", resolved_at=at(2026, 7))
    assert (updated.status, updated.card_ts, updated.resolved_at) == ("resolved", "1712.0001", at(2026, 7))
    assert get_incident(db, incident.id).status == "resolved"
    with pytest.raises(ValueError, match="key"):
        update_incident(db, incident.id, key="INC-2026-999")
    with pytest.raises(ValueError, match="colour"):
        update_incident(db, incident.id, colour="red")
    with pytest.raises(IntegrityError):  # the database checks the status list
        update_incident(db, incident.id, status="forgotten")


def test_replicas_declaring_at_once_get_distinct_consecutive_keys(db: Database, replica) -> None:
    replicas = [db, replica(), replica()]
    per_thread = 3
    barrier = threading.Barrier(len(replicas) * 2)
    keys: list[str] = []
    errors: list[BaseException] = []

    def declare_some(database: Database) -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                keys.append(declare(database, at(2026)).key)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=declare_some, args=(d,)) for d in replicas for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(keys) == [f"INC-2026-{n:03d}" for n in range(1, len(threads) * per_thread + 1)]


def test_incidents_are_found_by_key_in_any_case_or_by_id(db: Database) -> None:
    incident = declare(db, at(2026))
    assert get_incident(db, "INC-2026-001").id == incident.id
    assert get_incident(db, " inc-2026-001 ").id == incident.id
    assert get_incident(db, incident.id).key == "INC-2026-001"
    assert get_incident(db, str(incident.id)).key == "INC-2026-001"
    assert get_incident(db, "INC-2026-002") is None


def test_the_open_incident_of_a_service_ignores_closed_ones_and_other_services(db: Database) -> None:
    assert open_incident_for_service(db, "shopping-service") is None
    first = declare(db, at(2026, 1, 1))
    declare(db, at(2026, 1, 2), service="payments")
    assert open_incident_for_service(db, "shopping-service").key == first.key
    update_incident(db, first.id, status="resolved")
    assert open_incident_for_service(db, "shopping-service") is None
    second = declare(db, at(2026, 2, 1))
    update_incident(db, second.id, status="monitoring")
    assert open_incident_for_service(db, "shopping-service").key == second.key
