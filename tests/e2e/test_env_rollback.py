"""*Revert env only* end to end: a release whose feature flag broke it is fixed by restoring the previous env and
keeping the live image, through the plan, Confirm, the run, the analysis on real Prometheus and the postmortem."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client, config

from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.scenario import load_scenario
from bot.sandbox.world import ONCALL, VIEWER, World
from bot.slack.views import ActionId
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix
from tests.e2e.test_strategies import OUTCOMES, kinds, postmortem
from tests.support import need_binary

SCENARIO = Path(__file__).parents[1] / "scenarios" / "feature_flag.yaml"
KEPT = "registry.local/shopping-service:v1.2.5"
SUMMARY = "env only: FEATURE_FLAG_NEW_CHECKOUT, DB_PASSWORD reverted; image kept"


@pytest.fixture
def world():
    need_binary("prometheus")
    with World(load_scenario(SCENARIO), prometheus=True, catalog_overrides=QUICK_BAKE) as w:
        yield w


@pytest.fixture
def bot(world):
    with BotHarness(world) as h:
        yield h


def container(world: World):
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    return apps.read_namespaced_deployment(SERVICE, "shopping").spec.template.spec.containers[0]


def flag(world: World) -> str:
    return next(e.value for e in container(world).env if e.name == "FEATURE_FLAG_NEW_CHECKOUT")


def test_revert_env_only_restores_the_flag_keeps_the_image_and_is_verified(world, bot):
    alice, dave = OnCall(bot, ONCALL), OnCall(bot, VIEWER)
    alice.type(f"{SERVICE} new checkout failing")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.REVERT_ENV_ONLY)
    undo = world.slack.transcript(channel.id)
    assert 'env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"' in undo and "Revert env only" in undo

    dave.click(channel.id, ActionId.REVERT_ENV_ONLY)
    refused = wait_for("dave's answer", lambda: [r for r in world.slack.responses() if r.get("user") == VIEWER], 10)
    assert f"You can't roll back {SERVICE}" in refused[-1]["text"]

    alice.click(channel.id, ActionId.REVERT_ENV_ONLY)
    plan = alice.message_saying(channel.id, "image `v1.2.5` kept", timeout=20)
    shown = str(plan["blocks"])
    assert "Nothing has changed yet" in shown and f"image app stays {KEPT}" in shown
    assert "from Secret shop-db-v2 key password → from Secret shop-db-v1 key password" in shown
    assert flag(world) == "true", "nothing changes before Confirm"

    assert alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)["ts"] == plan["ts"], "the newest plan"
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1.2.5 with the env of revision 1 (image kept)" in done["text"], done["text"]
    ctr = container(world)
    assert ctr.image == KEPT and flag(world) == "false"
    assert "patched" in kinds(bot, channel.id) and "verified" in kinds(bot, channel.id)
    strategy = postmortem(world, alice, channel.id).split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**kubernetes**") and f"Rollback applied: {SUMMARY}" in strategy, strategy
    assert 'env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"' in strategy
