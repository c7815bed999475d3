"""Verification tells the truth when its own reads fail: the Kubernetes API server failing for 20 s during the
bake, or the health URL answering an HTML page or a JSON list, fails checks with their reason, never the run.
A good rollback ends verified, or could not verify; never FAILED."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.httpserver import Response
from bot.sandbox.world import ONCALL, World
from bot.state import timeline
from tests.e2e.conftest import SERVICE
from tests.e2e.test_verification import OUTCOMES, card_versions, final_card, kinds, passed_a_check, roll_back
from tests.support import need_binary

OUTAGE_SECONDS = 20
FALSE_FAILED = ("rollback_failed", "verification_failed")


def bake(failure_limit: int) -> dict:
    """A check every 5 s; the bake outlasts the outage whatever the limit."""
    return {"analysis": {"interval": "5s", "bake": "20s", "failure_limit": failure_limit}}


def events_at(bot: BotHarness, channel_id: str) -> dict[str, dt.datetime]:
    return {e.kind: e.at for e in timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)}


def api_outage_during_the_bake(world: World, bot: BotHarness, alice: OnCall):
    """Roll back; once a check of the bake passed, every API request answers 500 for 20 s. Returns
    (the channel, the outcome message, when the outage began and ended)."""
    channel = roll_back(alice)
    bot.wait_for("a passed check on the card", lambda: passed_a_check(world, bot, channel.id), 90)
    began = dt.datetime.now(dt.UTC)
    rule = world.k8s_faults.add(500, seconds=OUTAGE_SECONDS)  # every verb, every resource
    told = alice.message_saying(channel.id, *OUTCOMES, "FAILED", timeout=150)
    assert rule.hits > 0
    return channel, told, began, began + dt.timedelta(seconds=OUTAGE_SECONDS)


@pytest.mark.prometheus
def test_twenty_seconds_of_api_500s_during_the_bake_still_verify_a_good_rollback(tmp_path):
    need_binary("prometheus")
    with World(prometheus=True, catalog_overrides=bake(failure_limit=6)) as world, BotHarness(world) as bot:
        alice = OnCall(bot, ONCALL)
        channel, told, began, ended = api_outage_during_the_bake(world, bot, alice)

        assert "is back on v1.2.4* and verified: 4 checks in a row over 20s" in told["text"], told["text"]
        at = events_at(bot, channel.id)
        assert not set(at) & set(FALSE_FAILED), at
        assert at["rolled_out"] < began and at["verified"] > ended, "the whole outage fell inside the bake"
        shown = "\n".join(card_versions(world, bot, channel.id))
        assert "cluster unreadable" in shown and "failed (verification stops at 6)" in shown
        assert "Verification passed" in final_card(world, bot, channel.id, "Verification passed")


@pytest.mark.prometheus
def test_api_500s_past_the_failure_limit_cannot_verify_and_say_what_to_check_never_failed(tmp_path):
    need_binary("prometheus")
    with World(prometheus=True, catalog_overrides=bake(failure_limit=2)) as world, BotHarness(world) as bot:
        alice = OnCall(bot, ONCALL)
        channel, told, began, _ = api_outage_during_the_bake(world, bot, alice)

        text = told["text"]
        assert "is back on v1.2.4, but I could NOT verify that it is healthy" in text, text
        assert "because the cluster could not be read: the Kubernetes API server is failing (500" in text, text
        assert f"kubectl rollout status deployment/{SERVICE} -n shopping" in text
        assert "NOT healthy" not in text and "FAILED" not in text
        blocks = json.dumps(told["blocks"], ensure_ascii=False)
        assert "Could not verify everything" in blocks and "VERIFICATION FAILED" not in blocks
        at = events_at(bot, channel.id)
        assert "could_not_verify" in at and not set(at) & set(FALSE_FAILED), at
        assert at["rolled_out"] < began < at["could_not_verify"]


@pytest.mark.prometheus
def test_a_health_url_answering_html_then_a_json_list_fails_two_checks_then_verifies(tmp_path):
    need_binary("prometheus")
    with World(prometheus=True, catalog_overrides=bake(failure_limit=3)) as world, BotHarness(world) as bot:
        alice = OnCall(bot, ONCALL)
        channel = roll_back(alice)
        bot.wait_for("a passed check on the card", lambda: passed_a_check(world, bot, channel.id), 90)
        world.services[SERVICE].app.answer_health(
            Response.text("<html><h1>502 Bad Gateway</h1></html>", 502, "text/html"),  # a proxy's error page
            Response.json([{"status": "UP"}]),  # JSON, but not an object
        )

        told = alice.message_saying(channel.id, *OUTCOMES, "FAILED", timeout=120)
        assert "is back on v1.2.4* and verified: 4 checks in a row over 20s" in told["text"], told["text"]
        shown = "\n".join(card_versions(world, bot, channel.id))
        assert "health URL ✗ · 1 failed (verification fails at 3)" in shown
        assert "health URL ✗ · 2 failed (verification fails at 3)" in shown
        found = kinds(bot, channel.id)
        assert "verified" in found and not set(found) & set(FALSE_FAILED), found

