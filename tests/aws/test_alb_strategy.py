"""``aws-alb`` against moto in server mode (behind the sandbox's front, whose ALB model answers target health from
how each target group's release behaves): the plan, the switch all at once and in steps (the service simulator's
traffic follows the weights), an unhealthy target group refused with nothing changed, AccessDenied and a missing
target group named; the CloudFront invalidation Completed, and past its deadline; and the calls are exactly the
IAM actions of the spec (docs/aws-iam-policy.json)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bot.config import load_catalog
from bot.incidents.common import target
from bot.providers.aws.alb.spec import SPEC
from bot.providers.aws.errors import AwsError
from bot.providers.clients import Clients
from bot.sandbox.world import World
from bot.strategies.base import RollbackError, planned
from bot.strategies.options import Cdn

DOC = Path(__file__).resolve().parents[2] / "docs" / "aws-iam-policy.json"
STABLE, RELEASE = "registry.local/search:v1.8.0", "registry.local/search:v1.9.0"


@pytest.fixture
def world(monkeypatch):
    with World(prometheus=False, alb=True) as w:
        for key, value in w.aws.env().items():  # what the bot's process environment holds in the sandbox
            monkeypatch.setenv(key, value)
        yield w


@pytest.fixture
def clients(world):
    built = Clients()
    yield built
    built.close()


@pytest.fixture
def alb(clients):
    from bot.providers.aws.alb.strategy import AlbSwitch

    return AlbSwitch(clients)


def search(world, **options):
    service = load_catalog(world.catalog_path).services["search"]
    if options:
        service = dataclasses.replace(service, options=dataclasses.replace(service.options, **options))
    return service


def weights(world) -> dict[str, int]:
    """What the rule in moto says now, by target group name."""
    rule = world.aws.client("elbv2").describe_rules(RuleArns=[world.alb.rule_arn("search")])["Rules"][0]
    forward = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in forward}


def served(world) -> dict[str, float]:
    """The service simulator's split: image -> weight."""
    return {pods[0]["spec"]["containers"][0]["image"]: w for w, pods in world.alb.routes("search")}


def test_the_plan_names_the_target_groups_and_their_health_and_changes_nothing(world, alb):
    plan = planned(alb, target(search(world)))
    assert (plan.current.label, plan.desired.label) == ("search-release", "search-stable")
    assert (plan.current.version, plan.desired.version) == ("v1.9.0", "v1.8.0")
    changes = "\n".join(plan.changes)
    assert "from target group search-release (v1.9.0) back to search-stable (v1.8.0), all at once" in changes
    assert "search-release 100% → 0%" in changes and "(now: 2/2 targets healthy)" in changes
    assert [r.label for r in alb.history(target(search(world)))] == ["search-stable", "search-release"]
    assert weights(world) == {"search-stable": 0, "search-release": 100}


def test_the_switch_moves_all_traffic_back_and_the_simulator_follows(world, alb):
    plan = planned(alb, target(search(world)))
    alb.apply(plan)
    assert weights(world) == {"search-stable": 100, "search-release": 0}
    assert served(world) == {STABLE: 100.0, RELEASE: 0.0}
    assert alb.is_applied(plan)
    checks = {c.name: c for c in alb.verify(plan).checks}
    assert all(c.ok for c in checks.values()), checks
    assert checks["target health"].detail == "2/2 healthy"
    assert planned(alb, target(search(world))).skipped == "target group search-release already gets no traffic"


def test_stepped_weights_follow_the_schedule(world, alb):
    plan = planned(alb, target(search(world, steps=(50, 10, 0), step_pause="2s")))
    assert "in steps, 2s at each: search-release 100% → 50% → 10% → 0%" in plan.changes[0], plan.changes
    t = plan.target
    assert alb.schedule(t) == ((50, 10, 0), "2s")
    seen = []
    for weight in (50, 10):
        alb.set_weight(t, weight)
        seen.append((alb.weight(t), weights(world)["search-stable"], served(world)[RELEASE]))
    assert seen == [(50, 50, 50.0), (10, 90, 10.0)]
    assert "all at once: search-release 10% → 0%" in planned(alb, t).changes[0]  # what is left of the steps


def test_an_unhealthy_target_group_is_refused_and_nothing_changes(world, alb):
    world.mark_image(STABLE, error_rate=0.9)
    with pytest.raises(RollbackError) as caught:
        planned(alb, target(search(world)))
    said = str(caught.value)
    assert "Target group search-stable is not healthy (0 of 2 targets healthy" in said, said
    assert "unhealthy (Target.ResponseCodeMismatch)" in said and "nothing was changed" in said
    assert "search-release keeps its 100%" in said
    t = target(search(world))
    with pytest.raises(RollbackError, match="is not healthy"):
        alb.set_weight(t, 0)
    assert weights(world) == {"search-stable": 0, "search-release": 100}


def test_access_denied_and_a_missing_target_group_are_named(world, alb):
    plan = planned(alb, target(search(world)))
    world.aws.front.fail("elasticloadbalancing:ModifyRule", "AccessDenied")
    with pytest.raises(AwsError) as caught:
        alb.apply(plan)
    said = str(caught.value)
    assert "AWS refused elasticloadbalancing:ModifyRule on ALB listener rule search/" in said, said
    assert "Grant `elasticloadbalancing:ModifyRule`" in said and "search-release keeps 100% of the traffic" in said
    assert weights(world) == {"search-stable": 0, "search-release": 100}
    world.aws.front.clear()
    with pytest.raises(AwsError) as caught:
        alb.plan(target(search(world, stable="search-gone")))
    said = str(caught.value)
    assert "target group search-gone of ALB listener rule search/" in said, said
    assert "the target group was not found in AWS" in said
    assert "elasticloadbalancing:DescribeTargetGroups" in said


def vpc(moto) -> str:
    return moto.client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]


def invalidation(world, clients, deadline: str = "10m"):
    from bot.providers.aws.cloudfront import CloudFrontInvalidation

    return CloudFrontInvalidation(clients, Cdn(world.cdn["search"], ("/*", "/search/*"), deadline))


def test_the_cloudfront_invalidation_waits_for_completed(world, alb, clients):
    seen = []
    done = invalidation(world, clients).after_verify(planned(alb, target(search(world))), "run-1", seen.append)
    assert done.endswith(f"of /*, /search/* on {world.cdn['search']}: Completed"), done
    assert [p.message.rsplit(": ", 1)[1] for p in seen] == ["InProgress", "Completed"]
    listed = world.aws.client("cloudfront").list_invalidations(DistributionId=world.cdn["search"])
    assert listed["InvalidationList"]["Quantity"] == 1


def test_an_invalidation_past_its_deadline_is_told_with_the_command_to_check(world, alb, clients):
    world.cloudfront.stall()
    with pytest.raises(RollbackError) as caught:
        invalidation(world, clients, "2s").after_verify(planned(alb, target(search(world))), "run-1", lambda p: 0)
    said = str(caught.value)
    assert "is still InProgress after the deadline of 2s; the rollback itself is done" in said, said
    assert f"aws cloudfront get-invalidation --distribution-id {world.cdn['search']} --id " in said


def test_a_missing_distribution_and_access_denied_are_named(world, alb, clients):
    from bot.providers.aws.cloudfront import CloudFrontInvalidation

    plan = planned(alb, target(search(world)))
    with pytest.raises(AwsError) as caught:
        CloudFrontInvalidation(clients, Cdn("E0000000000000")).after_verify(plan, "run-1", lambda p: 0)
    assert "CloudFront distribution E0000000000000: the CloudFront distribution was not found" in str(caught.value)
    world.aws.front.fail("cloudfront:CreateInvalidation", "AccessDenied")
    with pytest.raises(AwsError, match="Grant `cloudfront:CreateInvalidation`"):
        invalidation(world, clients).after_verify(plan, "run-1", lambda p: 0)


def test_the_calls_are_exactly_the_iam_actions_of_the_spec_and_the_policy_doc(world, alb, clients):
    world.aws.front.forget_calls()
    t = target(search(world))
    alb.history(t)
    plan = planned(alb, t)
    alb.set_weight(plan.target, 0)
    alb.settle(plan.target, lambda p: None, 10)
    alb.verify(plan)
    with pytest.raises(RollbackError, match="forwards to search-stable, search-release, not to search-other"):
        moto = world.aws.moto  # not through the front: not the bot's call
        moto.client("elbv2").create_target_group(Name="search-other", Protocol="HTTP", Port=80, VpcId=vpc(moto))
        alb.plan(target(search(world, stable="search-other")))
    assert set(world.aws.front.calls) == set(SPEC.iam)
    world.aws.front.forget_calls()
    invalidation(world, clients).after_verify(plan, "run-1", lambda p: None)
    statements = {s["Sid"]: s["Action"] for s in json.loads(DOC.read_text())["Statement"]}
    assert statements["RollbackBotAwsAlb"] == sorted(SPEC.iam)
    assert statements["RollbackBotCdn"] == sorted(set(world.aws.front.calls))
