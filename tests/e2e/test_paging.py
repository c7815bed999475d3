"""Escalation pages through signed commands and clicks: the matrix, a page with *I'm on it*, one step up when nobody
answers within the response time, the acknowledgement, the postmortem's time to acknowledge; and PagerDuty's Events
API (emulated in the sandbox) getting a trigger per page and a resolve per situation, with retries, and a PagerDuty
that keeps failing reported without holding the page up."""

from __future__ import annotations

import json

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, ONCALL, OWNER, VIEWER, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix
from tests.e2e.test_strategies import postmortem

MATRIX = [
    {"situation": "rollback_failed", "page": [LEAD, OWNER], "respond_within": "3s"},
    {"situation": "database", "page": VIEWER, "respond_within": "5m"},
]


@pytest.fixture
def world():
    with World(pagerduty=True, catalog_overrides={**QUICK_BAKE, "escalation": MATRIX}) as w:
        yield w


@pytest.fixture
def bot(world):
    with BotHarness(world) as h:
        yield h


def events(bot, channel_id: str, kind: str) -> list:
    incident = incident_in_channel(bot.rt, channel_id)
    return [e for e in timeline.events(bot.rt.db, incident.id) if e.kind == kind]


def replies(world, user: str) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in world.slack.responses() if r.get("user") == user]


def test_a_page_steps_up_until_acknowledged_and_pagerduty_follows(world, bot):
    alice, bob, carol, dave = (OnCall(bot, u) for u in (ONCALL, OWNER, LEAD, VIEWER))
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    key = incident_in_channel(bot.rt, channel.id).key

    dave.type("page database", channel_id=channel.id)  # not a responder of the service
    bot.wait_for("the refusal", lambda: events(bot, channel.id, "audit"))
    alice.type("page", channel_id=channel.id)
    matrix = wait_for("the matrix", lambda: [r for r in replies(world, ONCALL) if "rollback_failed" in r], 10)[-1]
    assert "database" in matrix and "respond within 3 s" in matrix and "respond within 5 min" in matrix
    dave.type("page", channel_id=channel.id)  # dave may not page: the matrix he can't use is not even shown
    bot.wait_for("dave's refusal", lambda: len(events(bot, channel.id, "audit")) == 2)

    world.pagerduty.fail(503, times=2)  # PagerDuty hiccups: the third attempt gets through
    alice.type("page rollback_failed", channel_id=channel.id)
    first = alice.message_saying(channel.id, "needs you (rollback_failed)", timeout=10)
    assert f"<@{LEAD}>" in first["text"] and f"<@{OWNER}>" not in first["text"]
    assert LEAD in world.slack.channels[channel.id].members
    trigger = wait_for("the PagerDuty trigger", lambda: world.pagerduty.events, 15)[0]
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == f"{key}/rollback_failed"
    assert world.pagerduty.attempts == 3

    again = alice.message_saying(channel.id, "Paged again, one step up", timeout=15)  # nobody answered in 3 s
    assert f"<@{OWNER}>" in again["text"] and f"<@{LEAD}>" in again["text"]
    bob.click(channel.id, ActionId.ACK_PAGE)
    alice.message_saying(channel.id, f"<@{OWNER}> is on it (rollback_failed)", timeout=10)
    [acked] = bot.wait_for("the acknowledgement", lambda: events(bot, channel.id, "page_acked"))
    assert acked.actor == OWNER and acked.data["seconds"] >= 3
    carol.click(channel.id, ActionId.ACK_PAGE)  # a second click: already acknowledged, nothing changes
    wait_for("the answer", lambda: [r for r in replies(world, LEAD) if "already acknowledged" in r], 10)
    assert len(events(bot, channel.id, "page_acked")) == 1
    wait_for(
        "PagerDuty's acknowledge", lambda: [e for e in world.pagerduty.events if e["event_action"] == "acknowledge"], 15
    )

    world.pagerduty.fail(500, times=4)  # every attempt fails: reported, and the Slack page still stands
    reply = next(r for r in world.slack.responses() if r.get("user") == ONCALL and "rollback_failed" in json.dumps(r))
    bot.driver.click_reply(ONCALL, reply, ActionId.PAGE_SITUATION, f"{key}|1")  # the matrix's Page database
    alice.message_saying(channel.id, "needs you (database)", timeout=10)
    alice.message_saying(channel.id, "PagerDuty did not take the trigger for database", timeout=20)
    assert events(bot, channel.id, "pagerduty_failed")

    markdown = postmortem(world, alice, channel.id)
    announced = json.dumps(world.slack.messages(world.slack.channel_by_name("incidents")["id"])[-1], ensure_ascii=False)
    assert f"lead <@{ONCALL}>" in announced, "the announcement names the lead"
    assert "**Time to acknowledge:** rollback_failed: " in markdown and " after 0m " in markdown
    assert "**Time to acknowledge:** database: not acknowledged" in markdown
    resolves = wait_for(
        "the PagerDuty resolves",
        lambda: (
            len([e for e in world.pagerduty.events if e["event_action"] == "resolve"]) == 2
            and [e for e in world.pagerduty.events if e["event_action"] == "resolve"]
        ),
        20,
    )
    assert {e["dedup_key"] for e in resolves} == {f"{key}/rollback_failed", f"{key}/database"}
