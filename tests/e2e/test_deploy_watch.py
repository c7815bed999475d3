"""Watch after deploy: someone rolls out a new image with kubectl; the bot reads the triggers for watch_minutes,
and three failed checks in a row declare the incident, whose timeline starts at the deploy. A good deploy passes
its checks and declares nothing."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.alert_bodies import incidents
from tests.e2e.conftest import QUICK_BAKE, SERVICE
from tests.support import need_binary

pytestmark = pytest.mark.prometheus

WATCH = {"watch_minutes": 2, "watch_failures": 3, "window": "10s"}


def healthy_world(**overrides) -> World:
    world = World(prometheus=True, catalog_overrides={**QUICK_BAKE, **WATCH, **overrides})
    for image in list(world.scenario.images):
        world.mark_image(image, error_rate=0.004, p95_seconds=0.2, memory_ratio=0.4, crashloop=False, when_env=())
    return world


@pytest.fixture
def watched():
    need_binary("prometheus")
    with healthy_world() as world, BotHarness(world, env={"DEPLOY_WATCH_SECONDS": "1"}) as bot:
        yield bot


def deploy(world: World, image: str) -> dt.datetime:
    """What a person does: ``kubectl set image``; returns when it was done."""
    at = dt.datetime.now(dt.UTC)
    done = subprocess.run(
        [
            need_binary("kubectl"),
            "--kubeconfig",
            str(world.kubeconfig),
            "-n",
            "shopping",
            "set",
            "image",
            f"deployment/{SERVICE}",
            f"app={image}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return at


def checks(bot, verdict: str) -> int:
    return sum(f"watch after deploy: {SERVICE} check {verdict}" in line for line in bot.log.lines())


def test_three_failed_checks_after_a_deploy_declare_an_incident_that_starts_at_the_deploy(watched):
    bot = watched
    bot.world.mark_image("registry.local/shopping-service:v1.2.7", error_rate=0.30, p95_seconds=2.4)
    deployed = deploy(bot.world, "registry.local/shopping-service:v1.2.7")
    channel = OnCall(bot, ONCALL).channel("inc-", timeout=60)
    (incident,) = incidents(bot)
    assert (incident.service, incident.declared_by) == (SERVICE, "system:deploy-watch")
    assert "v1.2.7" in incident.reason and "failed 3 checks in a row" in incident.reason
    OnCall(bot, ONCALL).message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)

    def with_the_deploy():
        found = timeline.events(bot.rt.db, incident.id)
        return found if any(e.kind == "deploy" for e in found) and [e.kind for e in found].count("watch") == 3 else None

    events = bot.wait_for("the deploy and the failed checks on the timeline", with_the_deploy)
    kinds = [e.kind for e in events]
    assert kinds[0] == "deploy" and kinds[1:4] == ["watch"] * 3 and "declared" in kinds[4:], kinds
    started = events[0].at.replace(tzinfo=dt.UTC)
    assert abs((started - deployed).total_seconds()) < 3, "the timeline starts at the deploy"
    assert "v1.2.7" in events[0].text and "Error rate" in events[1].text
    assert events[1].at < events[2].at < events[3].at <= incident.created_at


def test_a_good_deploy_passes_its_checks_and_declares_nothing(watched):
    bot = watched
    deploy(bot.world, "registry.local/shopping-service:v1.2.8")  # an unknown image behaves well
    bot.wait_for("five passed checks", lambda: checks(bot, "passed") >= 5, timeout=60)
    assert incidents(bot) == [] and checks(bot, "Error rate") == 0
