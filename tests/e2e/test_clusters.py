"""Two clusters: a service in the second one (``cluster: sandbox-east``) rolled back there, the first cluster's
Deployment of the same name and namespace untouched, both read with the real kubectl and its ``--context``."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import EAST, ONCALL, World
from bot.slack.views import ActionId
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix
from tests.support import need_binary

EAST_SERVICE = f"{SERVICE}-east"


@pytest.fixture
def world():
    with World(prometheus=False, catalog_overrides=QUICK_BAKE, second_cluster=True) as w:
        yield w


@pytest.fixture
def bot(world):
    with BotHarness(world) as h:
        yield h


def kubectl_image(kubectl: str, world: World, context: str) -> str:
    out = subprocess.run(
        [kubectl, "--kubeconfig", str(world.kubeconfig), "--context", context, "-n", "shopping",
         "get", "deployment", SERVICE, "-o", "json"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    return json.loads(out)["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.mark.kubectl
def test_a_service_in_the_second_cluster_is_rolled_back_there_only(world, bot):
    kubectl = need_binary("kubectl")
    assert kubectl_image(kubectl, world, "sandbox").endswith(":v1.2.5")
    assert kubectl_image(kubectl, world, EAST).endswith(":v1.2.5")
    alice = OnCall(bot, ONCALL)

    alice.type(f"{EAST_SERVICE} checkout errors spiking")
    channel = alice.channel(channel_prefix().replace(SERVICE, EAST_SERVICE))
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    assert EAST_SERVICE in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=120)

    assert "is back on v1.2.4" in done["text"], done["text"]
    assert kubectl_image(kubectl, world, EAST).endswith(":v1.2.4"), "the second cluster was rolled back"
    assert kubectl_image(kubectl, world, "sandbox").endswith(":v1.2.5"), "the first cluster was not touched"
