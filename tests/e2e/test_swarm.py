"""A Docker Swarm service end to end: signed Slack requests, the bot's docker SDK over real HTTP to the Engine
API simulator (World(swarm=True)), the service simulator following the running tasks, and real Prometheus.
The bot sees the service, CI deploys v1.2.5, and the incident rolls it back with the Engine's rollback; a
rollback the Engine pauses is reported loudly; a chosen recorded spec is guarded by Version.Index."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.world import World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_aws_ecs import confirm_and_fail, select_options
from tests.e2e.test_plugin_strategy import option
from tests.e2e.test_privacy import ask
from tests.e2e.test_strategies import postmortem
from tests.support import need_binary

SERVICE = "basket"
OUTCOMES = ("is back on", "FAILED", "NOT healthy", "could not be verified")


@pytest.fixture
def world():
    need_binary("prometheus")
    with World(prometheus=True, swarm=True, catalog_overrides=QUICK_BAKE) as w:
        yield w


def live_image(world: World) -> str:
    return world.engine.service(SERVICE)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def released(world: World, bot, alice) -> None:
    """The bot sees the service on v1.2.4 (``/rollback history``), then CI deploys v1.2.5 and it completes."""
    seen = ask(bot, alice, f"history {SERVICE}")
    assert "v1.2.4" in seen and "v1.2.3" in seen, seen
    world.engine.deploy(SERVICE)
    bot.wait_for(
        "the release of v1.2.5", lambda: world.engine.service(SERVICE)["UpdateStatus"]["State"] == "completed", 30
    )


def declare_and_plan(alice):
    alice.type(f"{SERVICE} checkout errors after deploy")
    channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}")
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    return channel


def events(bot, channel_id: str) -> list[timeline.TimelineEvent]:
    return timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)


def test_a_swarm_service_is_rolled_back_by_the_engine_and_verified(world, bot, alice):
    released(world, bot, alice)
    channel = declare_and_plan(alice)
    plan = world.slack.transcript(channel.id)
    assert "Nothing has changed yet" in plan
    assert "back to its PreviousSpec (the Engine's rollback" in plan, plan
    assert "parallelism 2, delay 1s, on failure pause" in plan
    assert "image registry.local/basket:v1.2.5 → registry.local/basket:v1.2.4" in plan
    assert 'env PAYMENT_PROVIDER: "adyen" → "stripe"' in plan
    assert "namespace" not in plan and "kubectl" not in plan
    assert live_image(world) == "registry.local/basket:v1.2.5"

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1.2.4" in done["text"] and "and verified" in done["text"], done["text"]
    status = world.engine.service(SERVICE)["UpdateStatus"]
    assert status["State"] == "rollback_completed" and live_image(world) == "registry.local/basket:v1.2.4"
    assert [w[0] for w in world.engine.api.writes] == ["rollback"]  # the bot's, once
    progress = [e.text for e in events(bot, channel.id) if e.kind == "progress"]
    assert any("/5 tasks running v1.2.4" in p for p in progress) and "5/5 tasks running v1.2.4" in progress[-1]
    outcome = world.slack.transcript(channel.id)
    assert ":white_check_mark: *spec* — live registry.local/basket:v1.2.4" in outcome, outcome
    assert "5xx" in outcome  # Prometheus read the traffic of the v1.2.4 tasks
    kinds = [e.kind for e in events(bot, channel.id)]
    for kind in ("plan", "decision", "patched", "progress", "rolled_out", "verified"):
        assert kind in kinds, kinds
    markdown = postmortem(world, alice, channel.id)
    strategy = markdown.split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**swarm**"), strategy


def test_a_rollback_the_engine_pauses_is_reported_loudly_then_an_older_recorded_spec(world, bot, alice):
    released(world, bot, alice)
    world.mark_image("registry.local/basket:v1.2.4", crashloop=True)
    channel = declare_and_plan(alice)
    failed, card = confirm_and_fail(alice, channel.id, 90)
    assert (
        "the Engine PAUSED the rollback (UpdateStatus rollback_paused): rollback paused due to failure or "
        "early termination of task" in card
    ), card
    assert world.engine.service(SERVICE)["UpdateStatus"]["State"] == "rollback_paused"

    choices = select_options(alice.message_with(channel.id, ActionId.CHOOSE_REVISION))
    assert any("v1.2.3" in c for c in choices) and any("v1.2.5" in c for c in choices), choices
    alice.click(channel.id, ActionId.CHOOSE_REVISION, option(failed, "v1.2.3"))
    alice.message_saying(channel.id, "to the recorded spec", timeout=30)
    assert 'env CART_TTL: "1800" → "3600"' in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, "is back on v1.2.3", timeout=120)
    assert "and verified" in done["text"], done["text"]
    assert live_image(world) == "registry.local/basket:v1.2.3"


def test_a_write_that_lands_first_is_refused_on_version_index_and_changes_nothing(world, bot, alice):
    released(world, bot, alice)
    channel = declare_and_plan(alice)
    # another client writes between the bot's last read and its write: the Engine answers "update out of sequence"
    world.engine.api.race_next_write(lambda: world.engine.relabel(SERVICE, owner="team-basket"))
    _, card = confirm_and_fail(alice, channel.id, 60)
    assert "changed after this plan was made: its Version.Index is now" in card, card
    assert "the Engine said: rpc error: code = Unknown desc = update out of sequence" in card
    assert "nothing was rolled back" in card
    assert live_image(world) == "registry.local/basket:v1.2.5"
    assert world.engine.api.writes == []  # the Engine took no rollback


def test_scale_to_zero_from_the_failure_card(world, bot, alice):
    released(world, bot, alice)
    world.mark_image("registry.local/basket:v1.2.4", crashloop=True)
    channel = declare_and_plan(alice)
    failed, card = confirm_and_fail(alice, channel.id, 90)
    assert "Page escalation" in card and "Choose another revision" in card, card
    confirm = next(
        e["confirm"]
        for b in failed["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == ActionId.SCALE_TO_ZERO
    )
    assert "0 replicas" in json.dumps(confirm)
    alice.click(channel.id, ActionId.SCALE_TO_ZERO)
    bot.wait_for(
        "basket at 0 replicas", lambda: world.engine.service(SERVICE)["Spec"]["Mode"]["Replicated"]["Replicas"] == 0, 20
    )
