"""Steps ask a strategy for a capability, never for its name: who offers which, and what a strategy without
one gets: the plan says which steps the run skips and why, and the run skips them with the same words."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client import ApiClient

from bot.config import ServiceConfig
from bot.incidents.plan_notes import with_safety
from bot.providers.kubernetes.backup import JobBackup
from bot.providers.kubernetes.canary.strategy import CanaryStepDown
from bot.providers.kubernetes.deployment.strategy import KubernetesUndo
from bot.providers.kubernetes.gitops import GitOpsGuard
from bot.providers.kubernetes.locator import k8s, k8s_target
from bot.providers.kubernetes.statefulset.strategy import StatefulSetUndo
from bot.slack import views
from bot.state import runs
from bot.state.db import Database
from bot.state.incidents import create_incident
from bot.steps.context import RunContext, RunEnvironment
from bot.steps.safety import backup, suspend_sync
from bot.strategies.base import RUN_STEPS, Plan, Revision, plan_from_json, plan_to_json
from bot.strategies.capabilities import AfterVerify, Backup, Router, SyncGuard, capability, skip_reasons
from bot.strategies.options import BackupJob

JOB = BackupJob("registry.local/backup:1", ("pg_dump", "--file", "s3://backups/shop.sql"), None, "10m")
SERVICE = ServiceConfig(name="shop", namespace="shop", db_migrations=True, backup_job=JOB)
TARGET = k8s_target("shop", "shop", "shop", "app")
PLAN = Plan("rsync-release", TARGET, Revision(5, "shop:v5"), Revision(4, "shop:v4"), changes=("point at v4",))


class RsyncRelease:
    """A strategy of another provider that lists the safety steps but can do neither."""

    name = "rsync-release"
    steps = RUN_STEPS


def test_the_kubernetes_strategies_guard_sync_and_take_backups_and_only_the_canary_routes() -> None:
    api = ApiClient()
    undo, canary = KubernetesUndo(api), CanaryStepDown(api)
    for strategy in (undo, StatefulSetUndo(api), canary):
        assert isinstance(capability(strategy, SyncGuard), GitOpsGuard)
        assert isinstance(capability(strategy, Backup), JobBackup)
        assert capability(strategy, AfterVerify) is None
    assert capability(undo, Router) is None
    assert capability(canary, Router) is canary
    assert skip_reasons(undo) == skip_reasons(canary) == ()


def test_a_strategy_without_capabilities_is_offered_none() -> None:
    assert all(capability(RsyncRelease(), kind) is None for kind in (Router, Backup, SyncGuard, AfterVerify))
    assert skip_reasons(RsyncRelease()) == (
        "backup: this strategy cannot take a backup",
        "suspend sync: no GitOps controller manages this",
    )


def test_the_plan_says_which_steps_the_run_skips_and_why() -> None:
    plan = with_safety(PLAN, SERVICE, RsyncRelease())
    assert plan.skips == skip_reasons(RsyncRelease())
    assert plan.changes == ("point at v4",)  # no backup line: nothing will run one
    assert plan.warnings[-1].endswith("the rsync-release strategy cannot take a backup, so none is taken first")
    text = str(views.plan_confirmation(plan, "U_ALICE", False, "INC-1", 1))
    assert "The run skips:" in text and "suspend sync: no GitOps controller manages this" in text
    assert plan_from_json(plan_to_json(plan)).skips == plan.skips


def test_a_kubernetes_plan_names_its_backup_job_and_skips_nothing() -> None:
    plan = with_safety(PLAN, SERVICE, KubernetesUndo(ApiClient()))
    assert plan.skips == ()
    assert plan.changes[0].startswith("first, run the backup Job (registry.local/backup:1: pg_dump --file ")
    assert " in shop and wait up to 10m;" in plan.changes[0]
    text = str(views.plan_confirmation(plan, "U_ALICE", False, "INC-1", 1))
    assert "The run skips" not in text


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[RunContext]:
    """A run of ``RsyncRelease`` claimed by a worker, on a real (sqlite) database."""
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    db.migrate()
    incident = create_incident(db, "shop", "shop", "5xx spike", declared_by="U_ALICE")
    started = runs.start_run(
        db, incident.id, "shop", "rsync-release", target={"to_revision": 4}, plan=plan_to_json(PLAN),
        requested_by="U_ALICE", steps=list(RUN_STEPS), now=dt.datetime.now(dt.UTC),
    )
    run = runs.claim(db, "worker-a", 30)
    assert run is not None and run.id == started.id
    events: list[tuple] = []
    env = RunEnvironment(
        db, "worker-a", None, None, lambda *a, **k: None, lambda *a, **k: events.append(a), lambda *a: None
    )
    yield RunContext(env, run, incident, SERVICE, RsyncRelease(), PLAN, threading.Event(), plan=PLAN)
    db.dispose()


def test_the_run_skips_a_step_the_strategy_cannot_do_with_the_plans_words(ctx: RunContext) -> None:
    backup(ctx, "backup")
    suspend_sync(ctx, "suspend sync")
    steps = {s.name: (s.status, s.detail) for s in runs.get_run(ctx.env.db, ctx.run.id).steps}
    assert steps["backup"] == ("skipped", "no backup taken (this strategy cannot take a backup)")
    assert steps["suspend sync"] == ("skipped", "no GitOps controller manages this")


def test_a_plan_stored_before_targets_had_a_locator_still_loads() -> None:
    stored = {
        "strategy": "kubernetes",
        "target": {"service": "shop", "namespace": "shop", "workload": "shop-web", "container": "app",
                   "to_revision": 4, "options": {}, "env_only": False},
        "current": {"number": 5, "image": "shop:v5"},
        "desired": {"number": 4, "image": "shop:v4"},
        "changes": ["image shop:v5 -> shop:v4"],
    }
    plan = plan_from_json(stored)
    assert plan.target.locator == {"namespace": "shop", "workload": "shop-web", "container": "app"}
    assert (k8s(plan.target).where, k8s(plan.target).container, plan.target.to_revision) == ("shop/shop-web", "app", 4)
    assert plan_from_json(plan_to_json(plan)) == plan
