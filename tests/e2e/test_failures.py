"""When the rollback itself fails, the channel hears it loudly, with the emergency actions."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, config

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, ONCALL, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import SERVICE, channel_prefix


@pytest.fixture
def broken_previous():
    """v1.2.4, the rollback target, now crash-loops; time runs 60x so the 600 s progress deadline is 10 s."""
    with World(prometheus=False, clock_scale=60) as world:
        world.mark_image("registry.local/shopping-service:v1.2.4", crashloop=True, restart_every=5.0)
        with BotHarness(world) as bot:
            yield world, bot


def test_a_rollback_that_never_becomes_ready_is_reported_with_emergency_actions(broken_previous):
    world, bot = broken_previous
    alice, carol = OnCall(bot, ONCALL), OnCall(bot, LEAD)
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel.id, "The rollback of", "is back on", timeout=90)
    assert "The rollback of shopping-service FAILED" in failed["text"], failed["text"]
    assert "progress deadline" in failed["text"]
    assert "Scale to zero" in failed["text"]

    # The card now offers the emergency actions instead of the rollback buttons.
    alice.message_with(channel.id, ActionId.SCALE_TO_ZERO)
    alice.click(channel.id, ActionId.PAGE_ESCALATION)
    # escalation: LEAD, a single user id: the one situation (rollback_failed) is paged at once, with I'm on it
    paged = alice.message_saying(channel.id, "needs you (rollback_failed)", timeout=10)
    assert f"<@{LEAD}>" in paged["text"] and "I'm on it" in json.dumps(paged["blocks"])
    assert LEAD in world.slack.channel_by_name(channel.name)["members"]

    carol.click(channel.id, ActionId.SCALE_TO_ZERO)
    alice.message_saying(channel.id, "scaled shopping-service to zero", timeout=10)
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    assert apps.read_namespaced_deployment(SERVICE, "shopping").spec.replicas == 0

    incident = incident_in_channel(bot.rt, channel.id)
    kinds = [e.kind for e in timeline.events(bot.rt.db, incident.id)]
    assert kinds.index("decision") < kinds.index("rollback_failed") < kinds.index("paged") < kinds.index("emergency")


def test_slack_rate_limits_are_waited_out_not_lost(world, bot, alice):
    world.slack.set_rate_limit("chat.update", 2)
    world.slack.set_rate_limit("chat.postMessage", 3)
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=90)
    limited = [c for c in world.slack.calls() if c["status"] == 429]
    assert limited, "the test must actually hit the rate limit"
    final = wait_for("the card to show Resolve", lambda: alice.message_with(channel.id, ActionId.RESOLVE), 20)
    assert final.get("edited")
