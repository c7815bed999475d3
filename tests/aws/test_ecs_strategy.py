"""``aws-ecs`` against moto in server mode (behind the sandbox's front, whose deployments model rolls ECS
deployments over time): history, the plan's diff, the update, the wait for steady state, the verification, the
circuit breaker and the deadline reported, the scale to zero, errors named; and the calls it makes are exactly
the IAM actions its spec lists (docs/aws-iam-policy.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.providers.aws import iam
from bot.providers.aws.ecs.spec import SPEC
from bot.providers.aws.errors import AwsError
from bot.strategies.base import ConcurrentChange, RollbackError, planned
from bot.strategies.registry import specs
from tests.aws.conftest import orders_target

DOC = Path(__file__).resolve().parents[2] / "docs" / "aws-iam-policy.json"


def test_history_lists_the_family_s_revisions_with_their_images(world, ecs_strategy):
    history = ecs_strategy.history(orders_target(world))
    assert [(r.number, r.version, r.name) for r in history] == [
        (1, "v2.3.0", "orders:1"), (2, "v2.4.0", "orders:2"), (3, "v2.5.0", "orders:3")]
    assert history[1].change_cause == "deploy v2.4.0: faster order lookups"


def test_the_plan_shows_the_image_and_env_diff_and_changes_nothing(world, ecs_strategy):
    plan = planned(ecs_strategy, orders_target(world))
    assert (plan.current.name, plan.desired.name) == ("orders:3", "orders:2")
    changes = "\n".join(plan.changes)
    assert "update ECS service shop/orders (us-east-1) to task definition orders:2 (was orders:3)" in changes
    assert "container app: image registry.local/orders:v2.5.0 → registry.local/orders:v2.4.0" in changes
    assert 'container app: env PAYMENT_TIMEOUT_MS: "500" → "2000"' in changes
    assert 'container app: env RECEIPTS: "receipts-api" → "email"' in changes
    assert "LOOKUP_CACHE" not in changes  # the same in both
    assert plan.target_print["images"] == {"app": "registry.local/orders:v2.4.0"}
    assert not plan.warnings  # the circuit breaker is on, nothing is deploying
    live = world.aws.client("ecs").describe_services(cluster="shop", services=["orders"])["services"][0]
    assert live["taskDefinition"].endswith("orders:3")
    assert ecs_strategy.plan(orders_target(world, 3)).skipped == "already at revision 3"


def test_a_rollback_waits_for_steady_state_and_verifies(world, ecs_strategy):
    plan = planned(ecs_strategy, orders_target(world))
    ecs_strategy.apply(plan)
    assert ecs_strategy.is_applied(plan)
    seen = []
    ecs_strategy.wait(orders_target(world, 2), seen.append, 60)
    assert seen[-1].done and seen[-1].message == "2/2 tasks running on revision 2"
    assert any("old still running" in p.message for p in seen), [p.message for p in seen]
    checks = {c.name: c for c in ecs_strategy.verify(plan).checks}
    assert all(c.ok for c in checks.values()), checks
    pods = world.ecs.routes("orders")[0][1]  # the simulator's traffic follows the live task definition
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"registry.local/orders:v2.4.0"}


def test_a_changed_service_is_refused_before_the_update(world, ecs_strategy):
    plan = planned(ecs_strategy, orders_target(world))
    world.aws.client("ecs").update_service(cluster="shop", service="orders", taskDefinition="orders:1")
    with pytest.raises(ConcurrentChange, match="it now runs revision 1"):
        ecs_strategy.apply(plan)


def test_the_circuit_breaker_stopping_the_deployment_is_reported(world, ecs_strategy):
    world.mark_image("registry.local/orders:v2.4.0", crashloop=True, restart_every=1)
    ecs_strategy.apply(planned(ecs_strategy, orders_target(world)))
    with pytest.raises(RollbackError) as caught:
        ecs_strategy.wait(orders_target(world, 2), lambda p: None, 60)
    text = str(caught.value)
    assert "the ECS deployment circuit breaker stopped the deployment of revision 2" in text
    assert "tasks failed" in text and "the service stays on what still runs" in text


def test_a_deployment_that_never_settles_hits_the_bot_s_deadline(world, ecs_strategy):
    world.ecs.set_breaker("orders", enable=False)
    world.mark_image("registry.local/orders:v2.4.0", crashloop=True)
    ecs_strategy.apply(planned(ecs_strategy, orders_target(world)))
    with pytest.raises(RollbackError) as caught:
        ecs_strategy.wait(orders_target(world, 2), lambda p: None, 3)
    text = str(caught.value)
    assert "did not reach a steady state within the bot's deadline of 3 s" in text
    assert "0/2 tasks running on revision 2, 2 old still running" in text


def test_scale_to_zero_sets_the_desired_count(world, ecs_strategy):
    ecs_strategy.scale(orders_target(world), 0)
    live = world.aws.client("ecs").describe_services(cluster="shop", services=["orders"])["services"][0]
    assert (live["desiredCount"], live["runningCount"]) == (0, 0)
    assert world.ecs.routes("orders") == [(100.0, [])]


def test_access_denied_and_a_missing_service_are_named(world, ecs_strategy):
    world.aws.front.fail("ecs:UpdateService", "AccessDeniedException")
    with pytest.raises(AwsError) as caught:
        ecs_strategy.apply(planned(ecs_strategy, orders_target(world)))
    assert "AWS refused ecs:UpdateService on ECS service shop/orders (us-east-1)" in str(caught.value)
    assert "Grant `ecs:UpdateService`" in str(caught.value)
    world.aws.front.clear()
    target = orders_target(world)
    gone = type(target)(**{**vars(target), "options": {**target.options, "service": "nope"}})
    with pytest.raises(AwsError, match="ECS service shop/nope \\(us-east-1\\) was not found in AWS"):
        ecs_strategy.plan(gone)


def test_the_calls_are_exactly_the_iam_actions_of_the_spec_and_the_policy_doc(world, ecs_strategy):
    world.aws.front.forget_calls()
    target = orders_target(world)
    ecs_strategy.history(target)
    plan = planned(ecs_strategy, target)
    ecs_strategy.is_applied(plan)
    ecs_strategy.apply(plan)
    ecs_strategy.wait(orders_target(world, 2), lambda p: None, 60)
    ecs_strategy.verify(plan)
    ecs_strategy.scale(target, 0)
    assert set(world.aws.front.calls) == set(SPEC.iam)  # none missing (AccessDenied), none granted for nothing
    statement = next(s for s in json.loads(DOC.read_text())["Statement"] if s["Sid"] == "RollbackBotAwsEcs")
    assert statement["Action"] == sorted(SPEC.iam)


def test_the_policy_doc_is_the_one_the_specs_make():
    assert DOC.read_text() == iam.render(specs().values()), "regenerate: python -m bot.providers.aws.iam"
