"""Decision deadlines, played by the worker's job on short catalog durations: the card shows the deadline, the lead
and owners are pinged when it passes undecided, the escalation contact is invited and pinged at twice it; a
decision stops them; a Critical incident pings at once. Stakeholder update reminders follow ``update_every``."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.incidents import deadlines
from bot.incidents.cards import incident_in_channel
from bot.incidents.comms import remind_due
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import LEAD, ONCALL, OWNER, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.alert_bodies import alert, notification, post
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix

# The default scenario's live image is failing: High (or Medium when no signal can be read).
SHORT = {
    **QUICK_BAKE,
    "decision_deadlines": {"high": "3s", "medium": "3s", "escalate_critical_after": "1h"},
    "update_every": "7m",
}


@pytest.fixture
def world():
    with World(catalog_overrides=SHORT) as w:
        yield w


@pytest.fixture
def bot(world):
    with BotHarness(world) as h:
        yield h


def kinds(bot, channel_id: str) -> list[str]:
    return [e.kind for e in timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)]


def test_an_undecided_incident_pings_the_lead_and_owners_then_pulls_in_the_escalation_contact(world, bot):
    alice = OnCall(bot, ONCALL)
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    card = alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    assert "Decide by:" in json.dumps(card["blocks"]) or "Decision deadline" in json.dumps(card["blocks"])

    ping = alice.message_saying(channel.id, "decision deadline passed", timeout=15)
    assert f"<@{ONCALL}>" in ping["text"] and f"<@{OWNER}>" in ping["text"] and "3 second" in ping["text"]
    assert LEAD not in world.slack.channels[channel.id].members, "not yet: only at twice the deadline"
    pulled = alice.message_saying(channel.id, "you are pulled into", timeout=15)
    assert f"<@{LEAD}>" in pulled["text"]
    assert LEAD in world.slack.channels[channel.id].members, "the escalation contact is invited"
    assert kinds(bot, channel.id).count("deadline") == 1 and kinds(bot, channel.id).count("escalated") == 1
    assert deadlines.due(bot.rt, dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)) == 0, "each ping once"


def test_a_decision_stops_the_deadline_and_a_critical_incident_pings_at_once(world, bot):
    alice = OnCall(bot, ONCALL)
    alice.type(f"{SERVICE} orders lost --data-loss")  # Critical: decide now
    channel = alice.channel(channel_prefix())
    ping = alice.message_saying(channel.id, "it needs a decision now", timeout=15)
    assert "Critical" in ping["text"] and f"<@{OWNER}>" in ping["text"]
    alice.click(channel.id, ActionId.FORWARD_FIX)
    bot.wait_for("the forward fix", lambda: incident_in_channel(bot.rt, channel.id).status == "forward_fix")
    assert deadlines.due(bot.rt, dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)) == 0, "decided: no escalation"
    assert "escalated" not in kinds(bot, channel.id)

    # update_every: 7m is the reminder interval of this service (the catalog's reminder_minutes is 30)
    now = dt.datetime.now(dt.UTC)
    assert remind_due(bot.rt, now + dt.timedelta(minutes=6)) == 0
    assert remind_due(bot.rt, now + dt.timedelta(minutes=8)) == 1
    assert remind_due(bot.rt, now + dt.timedelta(minutes=14)) == 0
    assert remind_due(bot.rt, now + dt.timedelta(minutes=16)) == 1, "every 7 minutes"


def test_a_critical_incident_alertmanager_declares_with_auto_rollback_propose_pings_at_once():
    critical = {"thresholds": {"http_5xx_high": 0.1, "http_5xx_critical": 0.2}}  # the bad image's 30 % is Critical
    with World(catalog_overrides={**QUICK_BAKE, "auto_rollback": "propose", **critical}) as world:
        with BotHarness(world) as bot:
            assert post(bot, notification(alert(SERVICE))).status_code == 200  # nobody typed anything
            alice = OnCall(bot, ONCALL)
            channel = alice.channel("inc-")
            alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)  # propose: the plan, for a person
            ping = alice.message_saying(channel.id, "it needs a decision now", timeout=15)
            assert "Critical" in ping["text"] and f"<@{OWNER}>" in ping["text"]
