"""Incident keys and look-ups."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.exc import IntegrityError

from bot.state.db import Database
from bot.state.incidents import (
    IncidentAlreadyOpen,
    WrongState,
    create_incident,
    get_incident,
    open_incident_for_service,
    transition,
    update_incident,
)
from bot.state.models import Incident

UTC = dt.UTC


def at(year: int, month: int = 6, day: int = 1, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


_services = iter(range(10**6))


def declare(db: Database, now: dt.datetime | None = None, service: str | None = None) -> Incident:
    """A new incident; of a service of its own unless ``service`` is given (one open incident per service)."""
    service = service or f"service-{next(_services)}"
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
    updated = update_incident(db, incident.id, card_ts="1712.0001", resolved_at=at(2026, 7))
    assert (updated.card_ts, updated.resolved_at) == ("1712.0001", at(2026, 7))
    assert get_incident(db, incident.id).card_ts == "1712.0001"
    with pytest.raises(ValueError, match="key"):
        update_incident(db, incident.id, key="INC-2026-999")
    with pytest.raises(ValueError, match="colour"):
        update_incident(db, incident.id, colour="red")
    with pytest.raises(ValueError, match="status"):  # the status only moves through the state machine
        update_incident(db, incident.id, status="resolved")
    with pytest.raises(IntegrityError):  # and the database checks the status list whoever writes it
        with db.session() as session:
            session.get(Incident, incident.id).status = "forgotten"


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
    first = declare(db, at(2026, 1, 1), service="shopping-service")
    declare(db, at(2026, 1, 2), service="payments")
    assert open_incident_for_service(db, "shopping-service").key == first.key
    transition(db, first.id, "resolve")
    assert open_incident_for_service(db, "shopping-service") is None
    second = declare(db, at(2026, 2, 1), service="shopping-service")
    transition(db, second.id, "forward_fix")
    assert open_incident_for_service(db, "shopping-service").key == second.key


def test_one_open_incident_per_service_even_when_two_people_declare_at_once(db: Database, replica) -> None:
    databases = [db, replica(), replica(), replica()]
    barrier = threading.Barrier(len(databases))
    created: list[Incident] = []
    refused: list[IncidentAlreadyOpen] = []

    def declare_one(database: Database) -> None:
        barrier.wait()
        try:
            created.append(declare(database, at(2026), service="shopping-service"))
        except IncidentAlreadyOpen as exc:
            refused.append(exc)

    threads = [threading.Thread(target=declare_one, args=(d,)) for d in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1 and len(refused) == 3
    assert {e.incident.key for e in refused} == {created[0].key}, "the others are pointed to the one incident"


def test_a_closed_incident_never_moves_again(db: Database) -> None:
    incident = declare(db, at(2026))
    transition(db, incident.id, "dismiss")
    for move in ("resolve", "forward_fix", "start_rollback", "rollback_verified", "dismiss"):
        with pytest.raises(WrongState) as refused:
            transition(db, incident.id, move)
        assert refused.value.status == "dismissed"
    assert get_incident(db, incident.id).status == "dismissed"


def test_resolve_is_refused_while_a_rollback_runs(db: Database) -> None:
    incident = declare(db, at(2026))
    transition(db, incident.id, "start_rollback")
    with pytest.raises(WrongState, match="rolling_back"):
        transition(db, incident.id, "resolve")
    with pytest.raises(WrongState):
        transition(db, incident.id, "dismiss")
    transition(db, incident.id, "rollback_verified")
    assert transition(db, incident.id, "resolve").status == "resolved"
