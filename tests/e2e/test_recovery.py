"""Recovery after a crash is exact: a worker that dies between suspending GitOps sync and recording it is
resumed by another, which does not suspend twice, and *Resume sync* puts back what was there before the bot
first touched it (Argo CD's ``automated`` policy, Flux's ``suspend``)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.incidents.cards import incident_in_channel
from bot.incidents.sync import SUSPENDED, SUSPENDING
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.scenario import load_scenario
from bot.sandbox.world import ONCALL, World
from bot.slack.views import ActionId
from bot.state import runs, timeline
from bot.state.models import Incident
from bot.steps import RunContext
from bot.steps.context import RunEnvironment
from bot.steps.rollout import pre_checks
from bot.steps.safety import backup, suspend_sync
from bot.strategies.base import RollbackError, plan_from_json
from bot.worker import Worker
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_strategies import OUTCOMES, prefix

SCENARIO = Path(__file__).parent.parent / "scenarios" / "gitops_jobs.yaml"
OWNERS = {  # service -> (resource, namespace, name, title) of what syncs it
    "checkout": ("applications", "argocd", "checkout", "Argo CD Application argocd/checkout"),
    "cart": ("kustomizations", "flux-system", "cart", "Flux Kustomization flux-system/cart"),
}


@pytest.fixture
def world():
    with World(load_scenario(SCENARIO), catalog_overrides=QUICK_BAKE) as w:
        yield w


@pytest.fixture
def bot(world):
    with BotHarness(world, worker=False) as h:  # the test plays the workers
        yield h


def crash_after_the_suspend(bot: BotHarness, world: World, resource: str) -> None:
    """Replica A claims the run and runs its steps; the suspend's patch lands but its answer is lost, and A
    dies there, before the step's record: its lease (1 s) is never renewed."""
    run = wait_for("the run", lambda: runs.claim(bot.rt.db, "replica-a", lease_seconds=1), 10)
    service = bot.rt.catalog.get(run.service)
    ctx = RunContext(
        env=RunEnvironment.of(bot.rt, "replica-a", Worker(bot.rt, worker_id="replica-a").say),
        run=run,
        incident=bot.rt.db.transaction(lambda s: s.get(Incident, run.incident_id)),
        service=service,
        strategy=bot.rt.strategy_for(service),
        confirmed=plan_from_json(run.plan),
        lost=threading.Event(),
    )
    pre_checks(ctx, "pre-checks")
    backup(ctx, "backup")
    world.k8s_faults.add(504, after=True, verb="patch", resource=resource, times=1)
    with pytest.raises(RollbackError):
        suspend_sync(ctx, "suspend sync")


@pytest.mark.parametrize("service", sorted(OWNERS))
def test_a_run_resumed_after_a_crash_in_the_suspend_restores_sync_as_it_was(world, bot, service):
    resource, namespace, name, title = OWNERS[service]
    owner = lambda: world.cluster.get(resource, namespace, name)["spec"]  # noqa: E731
    before = owner()
    patches = world.k8s_faults.delay(0.0, verb="patch", resource=resource)  # counts every patch of the owner
    alice = OnCall(bot, ONCALL)
    alice.type(f"{service} errors")
    channel = alice.channel(prefix(service))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "started the rollback", timeout=20)

    crash_after_the_suspend(bot, world, resource)
    assert owner() != before and patches.hits == 1, "the suspend landed before the crash"

    replica_b = Worker(bot.rt, worker_id="replica-b", lease_seconds=5)
    try:
        wait_for("replica B to claim the expired run", replica_b.claim_and_start, 10, interval=0.3)
        done = alice.message_saying(channel.id, *OUTCOMES, timeout=90)
    finally:
        replica_b.stop()
    assert f"Sync of the {title} is suspended" in done["text"], done["text"]
    assert patches.hits == 1, "the resumed run did not suspend a second time"

    alice.click(channel.id, ActionId.RESUME_SYNC)
    alice.message_saying(channel.id, f"turned sync of the {title} back on", timeout=20)
    assert owner() == before, "sync is back as it was before the bot touched it"
    assert patches.hits == 2, "one patch to suspend, one to resume"
    events = timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel.id).id)
    assert "rollback_resumed" in [e.kind for e in events]
    (intent,) = [e for e in events if e.kind == SUSPENDING]
    (suspended,) = [e for e in events if e.kind == SUSPENDED]
    assert suspended.data["saved"] == intent.data["saved"] != {}, "recorded once, before the first patch"
