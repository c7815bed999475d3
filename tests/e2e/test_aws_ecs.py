"""An incident of a service on ECS end to end: signed Slack requests, moto in server mode behind the sandbox's
front (whose deployments model rolls the ECS deployment), the service simulator following the live task
definition, and real Prometheus. Declare, the plan with the image and env diff, Confirm, progress, steady
state, verified; a deployment the circuit breaker stops, reported loudly in ECS's words; AccessDenied named."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.world import World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_plugin_strategy import option
from tests.e2e.test_strategies import postmortem
from tests.e2e.test_verification import card_versions
from tests.support import need_binary

SERVICE = "orders"
OUTCOMES = ("is back on", "FAILED", "NOT healthy", "could not be verified")


@pytest.fixture
def world():
    need_binary("prometheus")
    with World(prometheus=True, catalog_overrides=QUICK_BAKE) as w:
        yield w


def live_task_definition(world: World) -> str:
    service = world.aws.client("ecs").describe_services(cluster="shop", services=[SERVICE])["services"][0]
    return service["taskDefinition"].rsplit("/", 1)[-1]


def declare_and_plan(alice):
    alice.type(f"{SERVICE} payment errors after deploy")
    channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}")
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    return channel


def events(bot, channel_id: str) -> list[timeline.TimelineEvent]:
    return timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)


def test_an_ecs_service_is_rolled_back_to_its_previous_task_definition_and_verified(world, bot, alice):
    channel = declare_and_plan(alice)
    plan = world.slack.transcript(channel.id)
    assert "Nothing has changed yet" in plan
    assert "update ECS service shop/orders (us-east-1) to task definition orders:2 (was orders:3)" in plan
    assert "container app: image registry.local/orders:v2.5.0 → registry.local/orders:v2.4.0" in plan
    assert 'container app: env RECEIPTS: "receipts-api" → "email"' in plan
    assert "namespace" not in plan and "kubectl" not in plan
    assert live_task_definition(world) == "orders:3"

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v2.4.0" in done["text"] and "and verified" in done["text"], done["text"]
    assert live_task_definition(world) == "orders:2"
    progress = [e.text for e in events(bot, channel.id) if e.kind == "progress"]
    assert any("tasks running on revision 2" in p for p in progress), progress
    assert any("2/2 tasks running on revision 2" in v for v in card_versions(world, bot, channel.id))
    outcome = world.slack.transcript(channel.id)
    assert ":white_check_mark: *task definition* — live orders:2" in outcome, outcome
    assert "5xx" in outcome  # Prometheus read the traffic of the tasks of orders:2
    kinds = [e.kind for e in events(bot, channel.id)]
    for kind in ("patched", "progress", "rolled_out", "verified"):
        assert kind in kinds, kinds

    markdown = postmortem(world, alice, channel.id)
    assert "- **Service:** orders\n" in markdown  # no namespace: it is not on Kubernetes
    strategy = markdown.split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**aws-ecs**"), strategy


def confirm_and_fail(alice, channel_id: str, timeout: float) -> tuple[dict, str]:
    """Confirm the plan on screen; the failure message and its blocks as text."""
    alice.click(channel_id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel_id, "The rollback FAILED", timeout=timeout)
    return failed, json.dumps(failed["blocks"], ensure_ascii=False)


def select_options(message: dict) -> list[str]:
    return [o["text"]["text"] for b in message.get("blocks") or [] for e in b.get("elements") or []
            if e.get("action_id") == ActionId.CHOOSE_REVISION for o in e.get("options") or []]


def test_a_deployment_the_circuit_breaker_stops_is_reported_loudly_then_another_revision(world, bot, alice):
    world.mark_image("registry.local/orders:v2.4.0", crashloop=True, restart_every=1)
    channel = declare_and_plan(alice)
    failed, card = confirm_and_fail(alice, channel.id, 90)
    assert "the ECS deployment circuit breaker stopped the deployment of revision 2" in card, card
    assert "tasks failed" in card and "ECS service shop/orders (us-east-1)" in card
    confirm = next(e["confirm"] for b in failed["blocks"] for e in b.get("elements") or []
                   if e.get("action_id") == ActionId.SCALE_TO_ZERO)
    assert "desired count 0" in json.dumps(confirm) and "namespace" not in card and "kubectl" not in card

    choices = select_options(alice.message_with(channel.id, ActionId.CHOOSE_REVISION))
    assert choices == ["rev 2 · v2.4.0 · deploy v2.4.0: faster order lookups",
                       "rev 1 · v2.3.0 · deploy v2.3.0: order history export"], choices
    alice.click(channel.id, ActionId.CHOOSE_REVISION, option(failed, "v2.3.0"))
    alice.message_saying(channel.id, "to task definition orders:1 (was orders:2)", timeout=30)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, "is back on v2.3.0", timeout=120)
    assert "is back on v2.3.0" in done["text"] and "and verified" in done["text"], done["text"]
    assert live_task_definition(world) == "orders:1"


@pytest.mark.bot_env({"ROLLBACK_DEADLINE_SECONDS": "6"})
def test_a_deployment_stuck_past_the_bot_s_deadline_is_reported_and_scaled_to_zero(world, bot, alice):
    world.ecs.set_breaker(SERVICE, enable=False)
    world.mark_image("registry.local/orders:v2.4.0", crashloop=True)
    channel = declare_and_plan(alice)
    assert "the ECS deployment circuit breaker is off for this service" in world.slack.transcript(channel.id)
    _, card = confirm_and_fail(alice, channel.id, 60)
    assert "did not reach a steady state within the bot's deadline of 6 s" in card, card
    assert "0/2 tasks running on revision 2, 2 old still running" in card

    alice.click(channel.id, ActionId.SCALE_TO_ZERO)
    ecs = world.aws.client("ecs")

    def scaled() -> bool:
        service = ecs.describe_services(cluster="shop", services=[SERVICE])["services"][0]
        return service["desiredCount"] == service["runningCount"] == 0

    bot.wait_for("the ECS service scaled to desired count 0", scaled, 20)


def test_access_denied_names_the_permission_and_changes_nothing(world, bot, alice):
    world.aws.front.fail("ecs:UpdateService", "AccessDeniedException")
    channel = declare_and_plan(alice)
    _, card = confirm_and_fail(alice, channel.id, 60)
    assert "AWS refused ecs:UpdateService on ECS service shop/orders (us-east-1)" in card, card
    assert "Grant `ecs:UpdateService`" in card and "nothing was changed" in card
    assert live_task_definition(world) == "orders:3"
