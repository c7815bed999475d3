"""The status page follows the incident (High: degraded performance; resolve: operational), the card says what
it says now, and a person who may post updates sets it from the card; a viewer may not."""

from __future__ import annotations

import json

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import LEAD, ONCALL, VIEWER, World
from bot.slack.views import ActionId
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix
from tests.e2e.test_strategies import postmortem
from tests.e2e.test_time_figures import declare_and_roll_back


@pytest.fixture
def paged():
    with World(status_page=True, catalog_overrides=QUICK_BAKE) as world, BotHarness(world) as bot:
        yield bot


def card_text(bot, channel_id: str) -> str:
    incident = incident_in_channel(bot.rt, channel_id)
    found = bot.world.slack.find_message(incident.card_ts, channel_id) if incident.card_ts else None
    return json.dumps(found[1]["blocks"], ensure_ascii=False) if found else ""


def test_the_status_page_follows_the_incident_and_the_card_shows_it(paged):
    bot, page = paged, paged.world.status_page
    alice = OnCall(bot, ONCALL)
    alice.type(f"{SERVICE} checkout down")
    channel = alice.channel(channel_prefix())
    incident = bot.wait_for(
        "the assessment", lambda: (i := incident_in_channel(bot.rt, channel.id)) and i.severity and i
    )
    expected = {"critical": "major_outage", "high": "degraded_performance"}.get(incident.severity, "operational")
    bot.wait_for("the status page set", lambda: page.status(SERVICE) == expected)
    if expected != "operational":
        words = {"major_outage": "Major outage", "degraded_performance": "Degraded performance"}[expected]
        bot.wait_for("the card to say it", lambda: f"*Status page:* {words}" in card_text(bot, channel.id))

    carol = OnCall(bot, LEAD)
    carol.click(channel.id, ActionId.SET_STATUS_PAGE, value=f"{incident.key}|2")  # partial outage
    bot.wait_for("the override", lambda: page.status(SERVICE) == "partial_outage")
    bot.wait_for("the card", lambda: f"*Status page:* Partial outage (set by <@{LEAD}>)" in card_text(bot, channel.id))

    dave = OnCall(bot, VIEWER)
    calls = len(page.calls)
    dave.click(channel.id, ActionId.SET_STATUS_PAGE, value=f"{incident.key}|0")
    bot.wait_for("the refusal", lambda: [r for r in bot.world.slack.responses() if r.get("user") == VIEWER])
    assert page.status(SERVICE) == "partial_outage" and len(page.calls) == calls, "a viewer changes nothing"
    unauthorized = [c for c in page.calls if c["answer"] == 401]
    assert unauthorized == []


def test_resolve_sets_it_operational_and_a_failing_status_page_never_holds_the_incident(paged):
    bot, page = paged, paged.world.status_page
    page.down = True
    alice = OnCall(bot, ONCALL)
    channel, _ = declare_and_roll_back(alice)  # the incident went on while the status page answered 503
    assert "The last change failed: the status page answered HTTP 503" in card_text(bot, channel.id)
    page.down = False
    alice.message_with(channel.id, ActionId.RESOLVE)
    postmortem(bot.world, alice, channel.id)
    bot.wait_for("operational again", lambda: page.status(SERVICE) == "operational" and page.calls[-1]["answer"] == 200)
    assert [c["status"] for c in page.calls][-1] == "operational"
