"""Durable rollback runs: one per service, leases, crashed workers, SKIP LOCKED."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from bot.state import runs
from bot.state.db import Database
from bot.state.models import Incident, RollbackRun

T0 = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)
STEPS = ["pre-checks", "undo", "wait for rollout", "verify"]


def start(db: Database, incident: Incident, service: str = "shopping-service", who: str = "U_ALICE",
          now: dt.datetime | None = None) -> RollbackRun:
    return runs.start_run(
        db, incident.id, service, "kubernetes", target={"workload": service, "to_revision": 3},
        plan={"changes": ["image v1.2.4 -> v1.2.3"]}, requested_by=who, steps=STEPS, now=now,
    )


def race(count: int, fn: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``fn(i)`` on ``count`` threads released together; results and exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results.append(fn(i))
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_a_new_run_is_pending_with_its_steps(db: Database, incident: Incident) -> None:
    run = start(db, incident, now=T0)
    stored = runs.get_run(db, run.id)
    assert (stored.status, stored.requested_by, stored.attempts, stored.created_at) == ("pending", "U_ALICE", 0, T0)
    assert stored.target == {"workload": "shopping-service", "to_revision": 3}
    assert [(s.name, s.status) for s in stored.steps] == [(name, "pending") for name in STEPS]
    assert runs.active_run(db, "shopping-service").id == run.id
    assert runs.get_run(db, 999_999) is None


def test_a_second_run_for_the_service_says_who_started_the_first(db: Database, incident: Incident) -> None:
    first = start(db, incident, who="U_ALICE", now=T0)
    with pytest.raises(runs.RunAlreadyActive) as raised:
        start(db, incident, who="U_BOB")
    assert raised.value.run.id == first.id
    assert (raised.value.requested_by, raised.value.since) == ("U_ALICE", T0)
    assert "U_ALICE" in str(raised.value) and "2026-03-04 10:00:00" in str(raised.value)
    start(db, incident, service="payments", who="U_BOB")  # other services are not blocked


def test_double_clicks_on_two_replicas_start_exactly_one_run(
    db: Database, replica, incident: Incident
) -> None:
    databases = [db, replica(), replica(), replica()]
    started, errors = race(8, lambda i: start(databases[i % 4], incident, who=f"U_{i}"))
    assert len(started) == 1
    assert len(errors) == 7 and all(isinstance(e, runs.RunAlreadyActive) for e in errors)
    assert {e.run.id for e in errors} == {started[0].id}
    assert {e.requested_by for e in errors} == {started[0].requested_by}


def test_a_finished_run_frees_the_service(db: Database, incident: Incident) -> None:
    first = start(db, incident)
    assert runs.finish(db, first.id, "cancelled")
    assert runs.active_run(db, "shopping-service") is None
    assert not runs.finish(db, first.id, "verified")  # already over: the first ending stands
    assert runs.get_run(db, first.id).status == "cancelled"
    assert start(db, incident).id != first.id


def test_a_run_for_an_unknown_incident_is_refused(db: Database) -> None:
    with pytest.raises(Exception, match="(?i)foreign key"):
        runs.start_run(db, 424242, "svc", "kubernetes", {}, {}, "U_ALICE", steps=[])


def test_claim_takes_the_oldest_pending_run_with_a_lease(db: Database, incident: Incident) -> None:
    assert runs.claim(db, "worker-a", 30, now=T0) is None
    older = start(db, incident, service="a", now=T0)
    start(db, incident, service="b", now=T0 + dt.timedelta(seconds=1))
    before = db.now()
    claimed = runs.claim(db, "worker-a", 30, now=T0 + dt.timedelta(seconds=5))
    assert claimed.id == older.id
    assert (claimed.status, claimed.lease_owner, claimed.attempts) == ("running", "worker-a", 1)
    assert claimed.started_at == T0 + dt.timedelta(seconds=5), "the replica's clock stamps what people read"
    assert before <= claimed.heartbeat_at <= db.now(), "the lease is the database's clock"
    assert claimed.lease_expires_at == claimed.heartbeat_at + dt.timedelta(seconds=30)
    assert [s.name for s in claimed.steps] == STEPS


def test_heartbeat_keeps_the_lease_so_nobody_else_takes_the_run(db: Database, incident: Incident) -> None:
    run = start(db, incident)
    runs.claim(db, "worker-a", 0)  # a lease that runs out at once...
    assert runs.heartbeat(db, run.id, "worker-a", 30)  # ...renewed for 30 s of the database's clock
    renewed = runs.get_run(db, run.id)
    assert renewed.lease_expires_at == renewed.heartbeat_at + dt.timedelta(seconds=30)
    assert runs.claim(db, "worker-b", 30) is None
    assert not runs.heartbeat(db, run.id, "worker-b", 30)  # not b's lease
    assert runs.get_run(db, run.id).heartbeat_at == renewed.heartbeat_at


def test_a_crashed_workers_run_is_resumed_by_another(db: Database, incident: Incident) -> None:
    run = start(db, incident)
    runs.claim(db, "worker-a", 30, now=T0)
    runs.step(db, run.id, "pre-checks", "done", "target revision 3 exists", now=T0)
    runs.step(db, run.id, "undo", "running", now=T0)
    # worker-a dies: no more heartbeats. Before the lease ends the run is left alone...
    assert runs.claim(db, "worker-b", 30) is None
    # ...after, worker-b takes it over, and sees where worker-a got to. (A last heartbeat of 0 s stands
    # for the 30 s of the database's clock that pass.)
    assert runs.heartbeat(db, run.id, "worker-a", 0)
    resumed = runs.claim(db, "worker-b", 30, now=T0 + dt.timedelta(seconds=31))
    assert (resumed.id, resumed.lease_owner, resumed.attempts, resumed.started_at) == (run.id, "worker-b", 2, T0)
    assert [s.status for s in resumed.steps] == ["done", "running", "pending", "pending"]
    # worker-a comes back to life: its lease is gone and it cannot end the run.
    assert not runs.heartbeat(db, run.id, "worker-a", 30)
    assert not runs.finish(db, run.id, "failed", error="stale worker", worker_id="worker-a")
    assert runs.heartbeat(db, run.id, "worker-b", 30)
    assert runs.finish(db, run.id, "verified", worker_id="worker-b")
    assert runs.get_run(db, run.id).status == "verified"


def test_steps_record_progress_and_can_be_added(db: Database, incident: Incident) -> None:
    run = start(db, incident)
    runs.step(db, run.id, "wait for rollout", "running", "1/3 new replicas available", now=T0)
    later = T0 + dt.timedelta(seconds=30)
    runs.step(db, run.id, "wait for rollout", "running", "2/3 new replicas available", now=later)
    done = runs.step(db, run.id, "wait for rollout", "done", now=T0 + dt.timedelta(seconds=90))
    assert (done.detail, done.started_at, done.finished_at) == (
        "2/3 new replicas available", T0, T0 + dt.timedelta(seconds=90))
    runs.step(db, run.id, "page escalation", "skipped")
    assert [s.name for s in runs.get_run(db, run.id).steps] == [*STEPS, "page escalation"]
    with pytest.raises(ValueError, match="unknown step status"):
        runs.step(db, run.id, "verify", "finished")


def test_the_run_failure_is_kept_with_its_error(db: Database, incident: Incident) -> None:
    run = start(db, incident)
    runs.claim(db, "worker-a", 30, now=T0)
    assert runs.finish(db, run.id, "failed", error="rollout deadline exceeded", now=T0 + dt.timedelta(seconds=600))
    ended = runs.get_run(db, run.id)
    assert (ended.status, ended.error, ended.lease_expires_at) == ("failed", "rollout deadline exceeded", None)
    assert runs.claim(db, "worker-b", 30, now=T0 + dt.timedelta(days=1)) is None
    assert runs.sweep(db, dt.timedelta(seconds=0), lease_seconds=0) == [], "only pending runs expire"
    with pytest.raises(ValueError):
        runs.finish(db, run.id, "running")


def test_concurrent_claimers_never_get_the_same_run(db: Database, replica, incident: Incident) -> None:
    for n in range(6):
        start(db, incident, service=f"svc-{n}")
    databases = [db, replica(), replica()]
    claimed, errors = race(9, lambda i: runs.claim(databases[i % 3], f"worker-{i}", 30))
    assert errors == []
    ids = [run.id for run in claimed if run is not None]
    assert len(ids) == 6 and len(set(ids)) == 6


@pytest.mark.timeout(30)  # without SKIP LOCKED the claim would wait on the locked row
def test_a_run_locked_by_another_claimer_is_skipped(
    db: Database, replica, incident: Incident, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    first = start(db, incident, service="a", now=T0)
    second = start(db, incident, service="b", now=T0 + dt.timedelta(seconds=1))
    with replica().engine.connect() as other_claimer:  # mid-claim: holds the oldest run's row lock
        other_claimer.execute(text("SELECT id FROM rollback_runs WHERE id = :id FOR UPDATE"), {"id": first.id})
        claimed = runs.claim(db, "worker-b", 30)
        other_claimer.rollback()
    assert claimed.id == second.id
    assert runs.claim(db, "worker-c", 30).id == first.id


def _age(db: Database, run_id: int, **ago: float) -> None:
    """Move a run's stamps back in time, as if the database's clock had run on (it cannot be injected)."""
    delta = dt.timedelta(**ago)
    with db.session() as session:
        run = session.get(RollbackRun, run_id)
        run.created_at -= delta
        if run.heartbeat_at is not None:
            run.heartbeat_at -= delta


def test_a_pending_run_counts_the_rollbacks_it_waits_behind(db: Database, incident: Incident) -> None:
    first, second, third = (start(db, incident, service=name) for name in ("a", "b", "c"))
    assert [runs.queued_ahead(db, r.id) for r in (first, second, third)] == [0, 1, 2]
    runs.claim(db, "worker-a", 30)
    assert [runs.queued_ahead(db, r.id) for r in (first, second, third)] == [0, 1, 2], "a running one is ahead"
    runs.finish(db, first.id, "verified", worker_id="worker-a")
    assert [runs.queued_ahead(db, r.id) for r in (second, third)] == [0, 1]
    assert runs.pending_incidents(db) == [incident.id, incident.id]


def test_a_run_queued_behind_busy_workers_never_expires(db: Database, incident: Incident) -> None:
    for n in range(4):  # every slot of the worker is busy
        start(db, incident, service=f"busy-{n}")
        runs.claim(db, "worker-a", 30)
    queued = start(db, incident, service="queued")
    _age(db, queued.id, minutes=11)
    assert runs.sweep(db, dt.timedelta(minutes=10), lease_seconds=30) == []
    assert (runs.get_run(db, queued.id).status, runs.queued_ahead(db, queued.id)) == ("pending", 4)


def test_a_pending_run_expires_when_no_worker_claimed_anything_within_the_lease(
    db: Database, incident: Incident
) -> None:
    done = start(db, incident, service="done")
    runs.claim(db, "worker-a", 30)
    runs.finish(db, done.id, "verified", worker_id="worker-a")
    queued = start(db, incident, service="queued")
    _age(db, queued.id, minutes=11)
    assert runs.sweep(db, dt.timedelta(minutes=10), lease_seconds=30) == [], "a worker claimed a run just now"
    _age(db, done.id, seconds=31)  # then the worker died: nothing claimed or renewed for a lease
    expired = runs.sweep(db, dt.timedelta(minutes=10), lease_seconds=30)
    assert [(r.id, r.status) for r in expired] == [(queued.id, "expired")]
    assert expired[0].error == "no worker was running to start it within 10 minutes"


def test_a_run_a_worker_claims_as_the_sweep_ends_it_is_not_ended(db: Database, incident: Incident) -> None:
    run = start(db, incident)
    runs.claim(db, "worker-a", 30)  # claimed between the sweep's read and its write
    pending = (RollbackRun.status == "pending",)
    assert not runs.finish(db, run.id, "expired", error="no worker", only_if=pending)
    assert (runs.get_run(db, run.id).status, runs.get_run(db, run.id).error) == ("running", None)
