"""Plans decided once, lease-guarded run writes, and runs that must not start."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.state import plans, runs
from bot.state.db import Database
from bot.state.incidents import WrongState, get_incident, transition
from bot.state.models import Incident, RollbackRun
from tests.state.test_runs import race

STEPS = ["pre-checks", "rollback", "wait for rollout", "verify"]


def show(db: Database, incident: Incident, who: str = "U_ALICE") -> int:
    return plans.show(db, incident.id, {"desired": {"number": 4}}, requested_by=who).id


def confirm(db: Database, plan_id: int, who: str = "U_BOB"):
    return plans.confirm(
        db, plan_id, who, service="shopping-service", strategy="kubernetes", target={"to_revision": 4}, steps=STEPS
    )


def test_confirm_and_cancel_clicked_together_exactly_one_wins(db: Database, replica, incident: Incident) -> None:
    plan_id = show(db, incident)
    databases = [db, replica()]
    results, errors = race(
        2, lambda i: confirm(databases[i], plan_id) if i == 0 else plans.cancel(databases[i], plan_id, "U_CAROL")
    )
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], plans.PlanDecided)
    decided = plans.get(db, plan_id)
    loser_saw = errors[0].plan
    assert loser_saw.status == decided.status and loser_saw.decided_by == decided.decided_by
    if decided.status == "confirmed":
        assert runs.active_run(db, "shopping-service") is not None
        assert get_incident(db, incident.id).status == "rolling_back"
    else:
        assert runs.active_run(db, "shopping-service") is None
        assert get_incident(db, incident.id).status == "open"


def test_a_newer_plan_makes_the_older_one_unclickable(db: Database, incident: Incident) -> None:
    old, new = show(db, incident), show(db, incident)
    with pytest.raises(plans.PlanDecided) as refused:
        confirm(db, old)
    assert refused.value.plan.status == "superseded"
    run = confirm(db, new)
    assert run.plan_id == new and plans.get(db, new).decided_by == "U_BOB"


def test_confirming_on_a_closed_incident_changes_nothing(db: Database, incident: Incident) -> None:
    plan_id = show(db, incident)
    transition(db, incident.id, "dismiss")
    with pytest.raises(WrongState):
        confirm(db, plan_id)
    assert plans.get(db, plan_id).status == "shown", "all or nothing: the plan is not marked confirmed"
    assert runs.active_run(db, "shopping-service") is None


def test_a_worker_that_lost_its_lease_writes_nothing(db: Database, incident: Incident) -> None:
    run = confirm(db, show(db, incident))
    runs.claim(db, "worker-a", 0)  # a lease that has already run out (the database's clock)
    assert runs.claim(db, "worker-b", 30).lease_owner == "worker-b"  # b took over
    with pytest.raises(runs.LeaseLost):
        runs.step(db, run.id, "rollback", "running", "patching", worker_id="worker-a")
    assert not runs.finish(db, run.id, "failed", error="late", worker_id="worker-a")
    assert runs.step(db, run.id, "rollback", "running", "patching", worker_id="worker-b").detail == "patching"
    assert runs.get_run(db, run.id).status == "running"
    assert runs.finish(db, run.id, "verified", worker_id="worker-b")
    assert get_incident(db, incident.id).status == "mitigated"


def test_a_run_never_moves_a_closed_incident_back(db: Database, incident: Incident) -> None:
    run = confirm(db, show(db, incident))
    runs.claim(db, "worker-a", 30)
    with db.session() as session:  # closed behind the worker's back (e.g. by an admin)
        session.get(Incident, incident.id).status = "resolved"
    assert runs.finish(db, run.id, "failed", worker_id="worker-a")
    assert get_incident(db, incident.id).status == "resolved"


def test_pending_runs_of_closed_incidents_are_cancelled_and_stale_ones_expire(db: Database, incident: Incident):
    run = confirm(db, show(db, incident))
    with db.session() as session:
        session.get(Incident, incident.id).status = "resolved"
    assert runs.claim(db, "worker-a", 30) is None, "a run whose incident closed is never started"
    assert [(r.id, r.status) for r in runs.sweep(db, dt.timedelta(minutes=10))] == [(run.id, "cancelled")]

    other = get_incident(db, incident.id)
    assert other.status == "resolved"
    from bot.state.incidents import create_incident

    second = create_incident(db, "shopping-service", "shop", "again", declared_by="U_ALICE")
    late = confirm(db, show(db, second))
    with db.session() as session:  # queued 11 minutes ago (the database's clock), and no worker since
        session.get(RollbackRun, late.id).created_at = late.created_at - dt.timedelta(minutes=11)
    assert runs.sweep(db, dt.timedelta(minutes=30)) == []
    expired = runs.sweep(db, dt.timedelta(minutes=10))
    assert [(r.id, r.status) for r in expired] == [(late.id, "expired")]
    assert "10 minutes" in expired[0].error
    assert get_incident(db, second.id).status == "open", "the incident is back to deciding"
