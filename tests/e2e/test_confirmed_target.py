"""The run carries out what was confirmed: a change to what traffic moves to, made after Confirm and before the
run starts, stops the run at its pre-checks with what changed, and nothing is switched."""

from __future__ import annotations

import subprocess

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL
from bot.slack.views import ActionId
from bot.state import runs
from tests.e2e.test_strategies import core, custom, kinds, prefix
from tests.support import need_binary

# what the run says when it ends (the card's own "FAILED" headline is not the run's message)
ENDED = ("The rollback of storefront FAILED", "is back on", "NOT healthy", "could not be verified")
OLD, NEW = "registry.local/storefront:v2.0.1", "registry.local/storefront:v2.0.2-hotfix"


@pytest.fixture
def held_bot(world):
    """The bot with its worker held: a confirmed run waits until the test starts the worker."""
    with BotHarness(world, worker=False) as h:
        yield h


def kubectl(world, *args: str) -> str:
    done = subprocess.run(
        [need_binary("kubectl"), "--kubeconfig", str(world.kubeconfig), "-n", "storefront", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_changed_idle_colour_stops_the_switch_and_changes_nothing(world, held_bot):
    bot, alice = held_bot, OnCall(held_bot, ONCALL)
    alice.type("storefront images broken")
    channel = alice.channel(prefix("storefront"))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert "switch Service storefront selector version: green → blue" in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "started the rollback", timeout=20)
    assert runs.active_run(bot.rt.db, "storefront").status == "pending"

    # Someone deploys to the idle colour after Confirm, before any worker took the run.
    kubectl(world, "set", "image", "deployment/storefront-blue", f"app={NEW}")
    bot.worker.start_thread()

    failed = alice.message_saying(channel.id, *ENDED, timeout=90)
    text = failed["text"]
    assert "The rollback of storefront FAILED at pre-checks" in text, text
    assert "blue (storefront-blue), what the rollback moves to, changed after the plan was confirmed" in text, text
    assert f"image app: {OLD} → {NEW}" in text, text
    assert "Nothing was changed" in text and "plan the rollback again" in text, text

    # The cluster is as the person left it: traffic still on green, blue not scaled up, kubectl's image kept.
    assert core(world).read_namespaced_service("storefront", "storefront").spec.selector["version"] == "green"
    routes = custom(world, "storefront", "storefront")["spec"]["http"]
    assert {d["destination"]["subset"] for r in routes for d in r["route"]} == {"green"}
    blue = kubectl(world, "get", "deployment/storefront-blue", "-o", "jsonpath={.spec.replicas} {..image}")
    assert blue == f"0 {NEW}", blue
    seen = kinds(bot, channel.id)
    assert "rollback_failed" in seen and "patched" not in seen and "prepared" not in seen, seen
