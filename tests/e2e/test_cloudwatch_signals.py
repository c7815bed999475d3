"""An ECS service with ``signals: cloudwatch`` and no Prometheus at all: the severity and the analysis read its ALB's
metrics from CloudWatch (moto in server mode, written from the simulator's traffic by the sandbox's publisher)
with get_metric_data. Declared from the bad revision's 5xx, rolled back, verified from the datapoints since the
rollout; no datapoint is "no data" (never verified); AccessDenied names the permission."""

from __future__ import annotations

import pytest

from bot.sandbox.world import World
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_aws_ecs import OUTCOMES, SERVICE, declare_and_plan, live_task_definition


@pytest.fixture
def world():
    with World(prometheus=False, cloudwatch=True, catalog_overrides=QUICK_BAKE) as w:
        yield w


def test_severity_and_verification_read_cloudwatch_when_there_is_no_prometheus(world, bot, alice):
    assert world.prometheus is None and "PROMETHEUS_URL" not in world.env()
    channel = declare_and_plan(alice)
    card = world.slack.transcript(channel.id)
    assert "5xx rate 35% is above 25% (main API failing)" in card, card  # HTTPCode_Target_5XX_Count / RequestCount
    assert "p95 latency 1.60 s is above 1 s" in card  # TargetResponseTime p95
    assert "2 of 6 signals unavailable (Memory, Restarts)" in card  # not ALB metrics: never shown as healthy
    alice.click(channel.id, "confirm_rollback")
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v2.4.0" in done["text"] and "and verified" in done["text"], done["text"]
    assert live_task_definition(world) == "orders:2"
    outcome = world.slack.transcript(channel.id)
    assert ":white_check_mark: *5xx rate* — " in outcome and "since the rollout (threshold 5%)" in outcome, outcome
    assert ":white_check_mark: *p95 latency* — " in outcome and "Prometheus" not in outcome
    assert "cloudwatch:GetMetricData" in world.aws.front.calls


def test_no_datapoint_since_the_rollout_is_never_verified(world, bot, alice):
    channel = declare_and_plan(alice)
    world.cloudwatch.paused.add(SERVICE)  # the ALB stops reporting: CloudWatch has no datapoint
    alice.click(channel.id, "confirm_rollback")
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "could NOT verify that it is healthy" in done["text"], done["text"]
    assert "CloudWatch had no data since the rollout" in done["text"] and "and verified" not in done["text"]


def test_access_denied_on_get_metric_data_names_the_permission(world, bot, alice):
    world.aws.front.fail("cloudwatch:GetMetricData", "AccessDeniedException")
    channel = declare_and_plan(alice)
    alice.click(channel.id, "confirm_rollback")
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "could NOT verify that it is healthy" in done["text"], done["text"]
    transcript = world.slack.transcript(channel.id)
    assert "CloudWatch did not answer" in transcript, transcript
    assert "grant `cloudwatch:GetMetricData` to the bot's IAM role" in transcript, transcript
