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


def test_a_deployment_the_circuit_breaker_stops_is_reported_loudly(world, bot, alice):
    world.mark_image("registry.local/orders:v2.4.0", crashloop=True, restart_every=1)
    channel = declare_and_plan(alice)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel.id, "The rollback FAILED", timeout=90)
    card = json.dumps(failed["blocks"], ensure_ascii=False)
    assert "the ECS deployment circuit breaker stopped the deployment of revision 2" in card, card
    assert "tasks failed" in card and "ECS service shop/orders (us-east-1)" in card
    assert "*Choose another revision…*" in card or "Choose another revision" in card
    confirm = next(e["confirm"] for b in failed["blocks"] for e in b.get("elements") or []
                   if e.get("action_id") == ActionId.SCALE_TO_ZERO)
    assert "desired count 0" in json.dumps(confirm) and "namespace" not in card and "kubectl" not in card
    assert live_task_definition(world) == "orders:2"  # ECS keeps the old tasks serving: rollback off

    alice.click(channel.id, ActionId.SCALE_TO_ZERO)
    ecs = world.aws.client("ecs")

    def scaled() -> bool:
        service = ecs.describe_services(cluster="shop", services=[SERVICE])["services"][0]
        return service["desiredCount"] == 0

    bot.wait_for("the ECS service scaled to desired count 0", scaled, 20)


def test_access_denied_names_the_permission_and_changes_nothing(world, bot, alice):
    world.aws.front.fail("ecs:UpdateService", "AccessDeniedException")
    channel = declare_and_plan(alice)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel.id, "The rollback FAILED", timeout=60)
    card = json.dumps(failed["blocks"], ensure_ascii=False)
    assert "AWS refused ecs:UpdateService on ECS service shop/orders (us-east-1)" in card, card
    assert "Grant `ecs:UpdateService`" in card and "nothing was changed" in card
    assert live_task_definition(world) == "orders:3"
