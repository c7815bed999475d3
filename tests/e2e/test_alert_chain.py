"""Detection with nobody at the keyboard: an image goes bad, the real Prometheus evaluates the catalog's alert
rules, the real Alertmanager posts its webhook, and the bot opens the incident channel with its card.

The sandbox's catalog shortens every ``*_for`` to 5 s through a ``thresholds`` override: the rules are the ones
``rollback-bot alert-rules`` builds for that catalog, so the production defaults stay as they are."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import LEAD, ONCALL, OWNER, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.alert_bodies import incidents
from tests.e2e.conftest import QUICK_BAKE, SERVICE
from tests.e2e.test_rollback_flow import live_image
from tests.e2e.test_time_figures import assert_time_figures, resolve
from tests.support import need_binary

pytestmark = pytest.mark.prometheus

FOR = 5  # seconds: every trigger's `for:` in this world
SHORT = {f"{signal}_for": f"{FOR}s" for signal in ("error_rate", "success_rate", "latency_p95", "memory")}
BAD = "registry.local/shopping-service:v1.2.5"


GRACE = 5  # seconds: the automatic rollback's grace period in the chain that rolls back by itself
EXECUTE = {
    "auto_rollback": "execute",
    "auto_rollback_grace": f"{GRACE}s",
    "rollback_allowed": [ONCALL, OWNER, LEAD, "system:auto-rollback"],
}


def alerting_world(**catalog) -> World:
    need_binary("prometheus")
    need_binary("prometheus-alertmanager")
    overrides = {**QUICK_BAKE, "thresholds": SHORT, "window": "20s", **catalog}
    world = World(prometheus=True, alerting=True, catalog_overrides=overrides)
    for image in list(world.scenario.images):  # every release healthy, until the test breaks one
        world.mark_image(image, error_rate=0.004, p95_seconds=0.2, memory_ratio=0.4, crashloop=False, when_env=())
    return world


@pytest.fixture
def alerting_bot():
    with alerting_world() as world, BotHarness(world) as bot:
        yield bot


def test_a_bad_image_is_detected_alerted_and_declared_with_no_human_input(alerting_bot):
    bot = alerting_bot
    world = bot.world
    rules = {r["name"]: r for g in bot_rules(world) for r in g["rules"]}
    assert rules["HighErrorRate"]["duration"] == FOR, "the sandbox's short for: comes from its catalog"
    time.sleep(FOR + 2)  # healthy traffic held longer than any for:
    assert incidents(bot) == [] and world.prometheus.alerts() == [], "nothing fires while every release is healthy"

    broke = dt.datetime.now(dt.UTC)
    world.mark_image(BAD, error_rate=0.30, p95_seconds=2.4, memory_ratio=0.93)
    channel = OnCall(bot, ONCALL).channel("inc-", timeout=60)
    (incident,) = incidents(bot)
    assert (incident.service, incident.declared_by, incident.lead_user_id) == (SERVICE, "system:alertmanager", None)
    declared_after = (incident.created_at.replace(tzinfo=dt.UTC) - broke).total_seconds()
    assert declared_after >= FOR, f"declared {declared_after:.1f} s after the break: before the rule's for: held"

    card = OnCall(bot, ONCALL).message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    bot.wait_for("the card pinned", lambda: card["ts"] in world.slack.channel_by_name(channel.name)["pins"])
    transcript = world.slack.transcript(channel.id)
    assert "system: alertmanager" in transcript or "system:alertmanager" in transcript

    def fired():
        return [e for e in timeline.events(bot.rt.db, incident.id) if e.kind == "alert"]

    events = bot.wait_for("the alerts on the timeline", fired)
    first = events[0].data
    assert first["status"] == "firing" and first["labels"]["service"] == SERVICE
    assert first["alertname"] in {"HighErrorRate", "LowSuccessRate", "HighLatencyP95", "HighMemory"}
    assert dt.datetime.fromisoformat(first["starts_at"]) >= broke - dt.timedelta(seconds=2)
    assert [i.service for i in incidents(bot)] == [SERVICE], "only the broken service"


def bot_rules(world: World) -> list[dict]:
    status, body = world.prometheus.get("/api/v1/rules")
    assert status == 200
    return json.loads(body)["data"]["groups"]


def test_the_whole_chain_rolls_back_and_verifies_with_no_human_input():
    """Prometheus -> Alertmanager -> bot -> the auto-rollback's countdown on the card -> the rollback as
    ``system:auto-rollback`` -> verified, and nobody clicked anything."""
    with alerting_world(**EXECUTE) as world, BotHarness(world) as bot:
        broke = time.monotonic()
        world.mark_image(BAD, error_rate=0.30, p95_seconds=2.4, memory_ratio=0.93)
        alice = OnCall(bot, ONCALL)
        channel = alice.channel("inc-", timeout=60)
        alice.message_saying(channel.id, "unless someone clicks *Hold*", timeout=60)
        (incident,) = incidents(bot)

        def verified():
            return [e for e in timeline.events(bot.rt.db, incident.id) if e.kind == "verified"]

        bot.wait_for("the automatic rollback verified", verified, timeout=150)
        took = time.monotonic() - broke
        events = timeline.events(bot.rt.db, incident.id)
        (decision,) = [e for e in events if e.kind == "decision"]
        assert decision.actor == "system:auto-rollback"
        assert [e.data["phase"] for e in events if e.kind == "auto_rollback"] == ["countdown", "started"]
        humans = [e.actor for e in events if e.actor and e.actor != "bot" and not e.actor.startswith("system:")]
        assert humans == [], f"nobody acted: {humans}"
        assert took >= FOR + GRACE
        bot.wait_for("the incident mitigated", lambda: incidents(bot)[0].status == "mitigated", timeout=30)
        assert live_image(world).endswith(":v1.2.4")
        def final_card() -> bool:  # the card is refreshed after the outcome is recorded
            _, card = world.slack.find_message(incidents(bot)[0].card_ts)
            text = json.dumps(card["blocks"])
            return "Rolled back to" in text and "verification passed" in text

        bot.wait_for("the card to say rolled back and verified", final_card, timeout=30)

        alice.message_with(channel.id, ActionId.RESOLVE)  # a person closes it: the postmortem's time figures
        markdown, message = resolve(alice, channel.id)
        lines = assert_time_figures(markdown, message, "alert ")
        assert lines["Decision"].startswith("Roll back") and "by @system:auto-rollback" in lines["Decision"]
