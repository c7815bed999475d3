"""The bot in Socket Mode (SLACK_APP_TOKEN): it opens the emulator's WebSocket through apps.connections.open, and
the whole incident (declare, confirm, resolve) is played in envelopes on it, each acknowledged; no signed HTTP."""

from __future__ import annotations

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL, OWNER, World
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_LESSONS, RESOLVE_ROOT_CAUSE, ActionId, CallbackId
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix


@pytest.fixture
def world():
    with World(prometheus=False, catalog_overrides=QUICK_BAKE) as w:
        yield w


@pytest.fixture
def bot(world):
    with BotHarness(world, socket_mode=True) as h:
        yield h


def test_declare_confirm_and_resolve_over_socket_mode(world, bot):
    socket = world.slack.socket_mode
    opened = world.slack.calls("apps.connections.open")
    assert [c["ok"] for c in opened] == [True] and socket.opened == 1, "one WebSocket, opened with the app token"
    alice = OnCall(bot, ONCALL)

    alice.type(f"{SERVICE} checkout errors spiking")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert "Nothing has changed yet" in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=120)
    assert "is back on v1.2.4" in done["text"], done["text"]

    alice.message_with(channel.id, ActionId.RESOLVE)
    alice.type("resolve", channel_id=channel.id)
    modal = alice.modal(CallbackId.RESOLVE)
    alice.submit(modal, {
        RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "The new payment client timed out under load."},
        RESOLVE_IMPACT: {RESOLVE_IMPACT: "30% of checkouts failed."},
        RESOLVE_LESSONS: {RESOLVE_LESSONS: "Canary payment changes."},
    })
    files = bot.wait_for("the postmortem upload", lambda: world.slack.files(channel.id), 20)
    assert "The new payment client timed out under load." in files[-1]["content"].decode()
    assert modal["id"] in world.slack.closed_views, "the submission's ack closed the modal"

    kinds = [e["type"] for e in socket.envelopes]
    assert kinds.count("slash_commands") == 2 and kinds.count("interactive") == 3, kinds
    assert {a["envelope_id"] for a in socket.acks} == {e["envelope_id"] for e in socket.envelopes}, "each acked"
    from bot.incidents.cards import incident_in_channel

    assert incident_in_channel(bot.rt, channel.id).status == "resolved"
    assert OWNER in world.slack.channel_by_name(channel.name)["members"]


def test_a_malformed_envelope_is_acknowledged_and_goes_no_further(world, bot):
    socket = world.slack.socket_mode
    envelopes_before = len(socket.envelopes)
    ack = bot.driver.send_payload({"type": "view_submission", "user": {"id": ONCALL}, "view": {"id": "V1"}})
    assert ack.status_code == 200 and ack.payload is None, "acknowledged empty, so Slack does not send it again"
    assert len(socket.envelopes) == envelopes_before + 1
    bot.wait_for("the refusal in the log", lambda: any("envelope refused" in line for line in bot.log.lines()), 5)
    assert world.slack.calls("chat.postMessage") == [] and world.slack.views_opened() == []


def test_the_bot_reconnects_when_slack_asks_and_keeps_answering(world, bot):
    socket = world.slack.socket_mode
    socket.disconnect("refresh_requested")
    bot.wait_for("the move to a second connection", lambda: socket.opened == 2 and socket.live == 1, 15)
    assert [c["ok"] for c in world.slack.calls("apps.connections.open")] == [True, True]
    alice = OnCall(bot, ONCALL)
    alice.type("help")
    reply = bot.wait_for("the help reply", lambda: world.slack.responses(), 10)
    assert "/rollback" in str(reply[-1])
