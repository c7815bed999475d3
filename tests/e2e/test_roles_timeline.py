"""Roles (`/rollback lead`, `/rollback comms`) and the timeline people write: `/rollback note` and a 📌 on a message,
through signed commands and Events API deliveries, read back on the card, in the reminders, the stakeholder
update, the announcements channel and the postmortem."""

from __future__ import annotations

import datetime as dt
import json

from bot.incidents.cards import incident_in_channel
from bot.incidents.comms import remind_due
from bot.sandbox.world import LEAD, ONCALL, OWNER, VIEWER
from bot.slack.views import UPDATE_SUMMARY, ActionId, CallbackId
from bot.state import timeline
from tests.e2e.conftest import SERVICE, channel_prefix
from tests.e2e.test_strategies import postmortem


def card_text(world, channel_id: str) -> str:
    incident = next(
        m for m in world.slack.messages(channel_id) if any(b.get("type") == "header" for b in m.get("blocks") or [])
    )
    return json.dumps(incident["blocks"], ensure_ascii=False)


def kinds(bot, channel_id: str) -> list[str]:
    return [e.kind for e in timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)]


def test_lead_and_comms_are_assigned_shown_and_get_the_reminders(world, bot, alice, dave):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)

    dave.type(f"lead <@{VIEWER}|dave>", channel_id=channel.id)  # a viewer is no responder: refused
    bot.wait_for("the refusal audited", lambda: "audit" in kinds(bot, channel.id))
    assert incident_in_channel(bot.rt, channel.id).lead_user_id == ONCALL, "nothing changed"

    alice.type(f"lead <@{LEAD}|carol>", channel_id=channel.id)
    alice.message_saying(channel.id, "is now the incident lead", timeout=10)
    alice.type(f"comms <@{VIEWER}|dave>", channel_id=channel.id)
    alice.message_saying(channel.id, "is now the communications lead", timeout=10)
    assert VIEWER in world.slack.channels[channel.id].members, "the comms lead is invited"
    bot.wait_for(
        "the card to show both roles",
        lambda: f"lead <@{LEAD}> · comms <@{VIEWER}>" in card_text(world, channel.id),
        timeout=10,
    )
    alice.type("comms nobody", channel_id=channel.id)  # not a person: a polite answer, nothing changed
    assert incident_in_channel(bot.rt, channel.id).comms_user_id == VIEWER

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)
    assert remind_due(bot.rt, later) == 1
    reminder = alice.message_saying(channel.id, "no stakeholder update", timeout=5)
    assert reminder["text"].startswith(f":alarm_clock: <@{VIEWER}>"), "the reminder goes to the comms lead"

    alice.type("update", channel_id=channel.id)
    alice.submit(alice.modal(CallbackId.STATUS_UPDATE), {UPDATE_SUMMARY: {UPDATE_SUMMARY: "Rolling back"}})
    announcements = world.slack.channel_by_name("incidents")["id"]
    update = alice.message_saying(announcements, "Rolling back", timeout=10)
    assert f"incident lead <@{LEAD}>" in json.dumps(
        update, ensure_ascii=False
    ) and f"communications lead <@{VIEWER}>" in json.dumps(update, ensure_ascii=False)

    markdown = postmortem(world, alice, channel.id)
    assert "**Incident lead:** " in markdown and "**Communications lead:** " in markdown
    assert "**Communications lead:** _not recorded_" not in markdown


def test_a_pin_and_a_note_are_human_entries_of_the_postmortem_and_an_unpin_takes_it_back(world, bot, alice):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)

    kept = world.slack.post_as(OWNER, channel.id, "The payment provider confirms an outage on their side")
    dropped = world.slack.post_as(OWNER, channel.id, "Maybe it is DNS?")
    bot.driver.react(ONCALL, channel.id, kept["ts"], "pushpin")
    bot.driver.react(ONCALL, channel.id, dropped["ts"], "pushpin")
    bot.driver.react(ONCALL, channel.id, kept["ts"], "eyes")  # another reaction: nothing
    bot.wait_for("both pins on the timeline", lambda: kinds(bot, channel.id).count("pinned") == 2)
    bot.driver.react(LEAD, channel.id, kept["ts"], "pushpin")  # a second 📌 on it: still one entry
    bot.driver.react(ONCALL, channel.id, dropped["ts"], "pushpin", removed=True)
    bot.wait_for("the unpin on the timeline", lambda: "unpinned" in kinds(bot, channel.id))
    alice.type("note Customer support sees failed checkouts since 14:02", channel_id=channel.id)
    bot.wait_for("the note", lambda: "note" in kinds(bot, channel.id))
    alice.type("note", channel_id=channel.id)  # nothing to say: a polite answer, nothing recorded
    assert kinds(bot, channel.id).count("pinned") == 2 and kinds(bot, channel.id).count("note") == 1

    markdown = postmortem(world, alice, channel.id)
    rows = [line for line in markdown.splitlines() if "[human]" in line]
    said = dt.datetime.fromtimestamp(float(kept["ts"]), dt.UTC).strftime("%H:%M:%S")
    assert any("The payment provider confirms an outage" in r and said in r for r in rows), rows
    assert any("Customer support sees failed checkouts" in r for r in rows), rows
    assert "Maybe it is DNS?" not in markdown, "the pin taken back is not in the postmortem"
    assert len(rows) == 2
