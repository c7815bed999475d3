"""An incident of a service behind an ALB end to end: signed Slack requests, moto in server mode behind the sandbox's
front (whose ALB model answers target health from the simulator's releases and whose CloudFront model keeps an
invalidation InProgress for a while), the service simulator's traffic following the rule's weights, and real
Prometheus. Declare, the plan (the weights, the health, the invalidation), Confirm, the weights moved at once or
in steps, verified, CloudFront invalidated and shown; an unhealthy target group refused; a stalled invalidation
past its deadline told without failing the rollback; AccessDenied named."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import wait_for
from bot.sandbox.world import ONCALL, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_strategies import postmortem
from tests.e2e.test_verification import final_card
from tests.support import need_binary

SERVICE = "search"
OUTCOMES = ("is back on", "FAILED", "NOT healthy", "could not be verified")


@pytest.fixture
def world(request):
    need_binary("prometheus")
    alb = getattr(request.node.get_closest_marker("alb_options"), "args", [{}])[0]
    cdn_deadline = getattr(request.node.get_closest_marker("cdn_deadline"), "args", [None])[0]
    with World(prometheus=True, alb=True, catalog_overrides={**QUICK_BAKE, "alb": alb}) as w:
        if cdn_deadline:
            w.catalog_overrides["cdn"] = {"distribution_id": w.cdn[SERVICE], "deadline": cdn_deadline}
            w.write_catalog()
        yield w


def weights(world: World) -> dict[str, int]:
    rule = world.aws.client("elbv2").describe_rules(RuleArns=[world.alb.rule_arn(SERVICE)])["Rules"][0]
    return {
        g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    }


def declare_and_plan(alice):
    alice.type(f"{SERVICE} results empty after deploy")
    channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}")
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    return channel


def events(bot, channel_id: str) -> list[timeline.TimelineEvent]:
    return timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)


def test_the_weights_move_back_at_once_verified_then_cloudfront_is_invalidated(world, bot, alice):
    channel = declare_and_plan(alice)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "Nothing has changed yet" in plan
    assert "from target group search-release (v1.9.0) back to search-stable (v1.8.0), all at once" in plan, plan
    assert "(now: 2/2 targets healthy)" in plan
    assert f"invalidate CloudFront distribution {world.cdn[SERVICE]} (/*)" in plan
    assert "namespace" not in plan and "kubectl" not in plan
    assert weights(world) == {"search-stable": 0, "search-release": 100}

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1.8.0" in done["text"] and "and verified" in done["text"], done["text"]
    assert "CloudFront invalidation " in done["text"] and f"on {world.cdn[SERVICE]}: Completed" in done["text"]
    assert weights(world) == {"search-stable": 100, "search-release": 0}
    outcome = world.slack.transcript(channel.id)
    assert ":white_check_mark: *weights* — search-stable 100%, search-release 0%" in outcome, outcome
    assert "5xx" in outcome  # Prometheus read the traffic the stable target group served
    card = final_card(world, bot, channel.id, "Completed")
    assert "*Invalidate cache* — CloudFront invalidation " in card and "Completed" in card, card
    kinds = [e.kind for e in events(bot, channel.id)]
    for kind in ("canary_step", "rolled_out", "verified", "progress", "cdn_invalidated"):
        assert kind in kinds, kinds
    assert kinds.index("verified") < kinds.index("cdn_invalidated")

    markdown = postmortem(world, alice, channel.id)
    strategy = markdown.split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**aws-alb**"), strategy
    assert "Search-release at 0% of traffic: all traffic is on the search-stable release" in strategy, strategy
    assert "CloudFront invalidation" in strategy and "Completed" in strategy


@pytest.mark.alb_options({"steps": [50, 0], "step_pause": "5s"})
def test_stepped_weights_read_the_signals_at_each_step(world, bot, alice):
    channel = declare_and_plan(alice)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert "in steps, 5s at each: search-release 100% → 50% → 0%" in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1.8.0" in done["text"], done["text"]
    steps = [e.text for e in events(bot, channel.id) if e.kind == "canary_step"]
    assert steps[0].startswith("Search-release at 50% of traffic: 5xx "), steps
    assert steps[-1].startswith("Search-release at 0% of traffic"), steps
    assert weights(world) == {"search-stable": 100, "search-release": 0}


def test_an_unhealthy_target_group_is_refused_and_nothing_changes(world, bot, alice):
    world.mark_image("registry.local/search:v1.8.0", crashloop=True)
    declare_and_plan(alice)

    def refused():
        said = [
            r.get("text", "") + str(r.get("blocks", "")) for r in world.slack.responses() if r.get("user") == ONCALL
        ]
        return [s for s in said if "can't plan" in s] or None

    said = wait_for("the refusal", refused, 30)[-1]
    assert "Target group search-stable is not healthy (0 of 2 targets healthy" in said, said
    assert "unhealthy (Target.Timeout)" in said and "Nothing was changed" in said
    assert weights(world) == {"search-stable": 0, "search-release": 100}


@pytest.mark.cdn_deadline("2s")
def test_an_invalidation_past_its_deadline_is_told_and_the_rollback_stays_verified(world, bot, alice):
    world.cloudfront.stall()
    channel = declare_and_plan(alice)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1.8.0" in done["text"] and "and verified" in done["text"], done["text"]
    assert "did not complete:* CloudFront invalidation" in done["text"], done["text"]
    assert "is still InProgress after the deadline of 2s" in done["text"]
    assert "aws cloudfront get-invalidation" in done["text"]
    assert "cdn_invalidation_failed" in [e.kind for e in events(bot, channel.id)]


def test_access_denied_names_the_permission_and_changes_nothing(world, bot, alice):
    world.aws.front.fail("elasticloadbalancing:ModifyRule", "AccessDenied")
    channel = declare_and_plan(alice)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel.id, "The rollback FAILED", timeout=60)
    card = str(failed["blocks"])
    assert "AWS refused elasticloadbalancing:ModifyRule on ALB listener rule search/" in card, card
    assert "Grant `elasticloadbalancing:ModifyRule`" in card and "search-release keeps 100% of the traffic" in card
    assert weights(world) == {"search-stable": 0, "search-release": 100}


@pytest.mark.cdn_deadline("1m")
def test_a_kubernetes_rollback_of_a_service_with_a_cdn_invalidates_it_too(world, bot, alice):
    alice.type("shopping-service checkout errors")
    channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-shopping-service")
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert f"invalidate CloudFront distribution {world.cdn[SERVICE]} (/*)" in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1.2.4" in done["text"] and f"on {world.cdn[SERVICE]}: Completed" in done["text"], done["text"]
    listed = world.aws.client("cloudfront").list_invalidations(DistributionId=world.cdn[SERVICE])
    assert listed["InvalidationList"]["Quantity"] == 1
