"""Private incidents stay private, and reads of what runs need a role: one world, every service private."""

from __future__ import annotations

import json
import logging

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL, VIEWER, World
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_ROOT_CAUSE, UPDATE_SUMMARY, ActionId, CallbackId
from bot.state import timeline
from bot.state.incidents import open_incident_for_service
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix

REASON = "card numbers visible in the checkout logs"
UPDATE = "Rotating the leaked API key now"
ROOT_CAUSE = "A debug log line printed the whole payment request."


@pytest.fixture(scope="module")
def world():
    with World(prometheus=False, catalog_overrides={**QUICK_BAKE, "private_channel": True}) as w:
        yield w


def shown(message: dict) -> str:
    return (message.get("text") or "") + json.dumps(message.get("blocks") or [], ensure_ascii=False)


def ask(bot: BotHarness, person: OnCall, text: str) -> str:
    """Type ``/rollback text`` and wait for the bot's private answer to it (text and blocks)."""
    mine = lambda: [r for r in bot.world.slack.responses() if r.get("user") == person.user]  # noqa: E731
    before = len(mine())
    person.type(text)
    return shown(bot.wait_for(f"the answer to /rollback {text}", lambda: mine()[before:], 20)[0])


def test_a_private_incident_is_announced_only_as_a_one_line_notice(world):
    with BotHarness(world) as bot:
        alice = OnCall(bot, ONCALL)
        alice.type(f"{SERVICE} {REASON}")
        channel = alice.channel(channel_prefix())
        alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
        alice.type("update", channel_id=channel.id)
        alice.submit(alice.modal(CallbackId.STATUS_UPDATE), {UPDATE_SUMMARY: {UPDATE_SUMMARY: UPDATE}})
        alice.message_saying(channel.id, UPDATE, timeout=20)
        alice.type("resolve", channel_id=channel.id)
        alice.submit(
            alice.modal(CallbackId.RESOLVE),
            {
                RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: ROOT_CAUSE},
                RESOLVE_IMPACT: {RESOLVE_IMPACT: "Card data in logs for 20 minutes."},
            },
        )
        bot.wait_for("the postmortem upload", lambda: world.slack.files(channel.id), 30)
    # The harness has stopped, so every job (the announcements after the update and the resolve) has finished.
    assert world.slack.channel_by_name(channel.name)["is_private"]
    announced = world.slack.messages(world.slack.channel_by_name("incidents")["id"])
    assert len(announced) == 1, [shown(m) for m in announced]
    notice = shown(announced[0])
    assert f"A private incident was declared for *{SERVICE}*, severity *" in notice
    for secret in (REASON, UPDATE, ROOT_CAUSE, "Resolved", channel.id):
        assert secret not in notice


def test_reads_need_a_responder_and_status_lists_a_private_incident_only_to_its_members(world, caplog):
    with BotHarness(world) as bot:
        alice, dave = OnCall(bot, ONCALL), OnCall(bot, VIEWER)  # dave: no role on the service
        with caplog.at_level(logging.WARNING, logger="bot.incidents.permissions"):
            refused = ask(bot, dave, f"history {SERVICE}")
        assert f"You can't see the rollout history of {SERVICE}" in refused and "v1.2.5" not in refused
        assert "Alice Chen" in refused or ONCALL in refused, "the refusal says who may"
        logged = [r for r in caplog.records if r.levelno == logging.WARNING and VIEWER in r.getMessage()]
        assert logged and "/rollback history" in logged[0].getMessage() and SERVICE in logged[0].getMessage()
        assert "v1.2.5" in ask(bot, alice, f"history {SERVICE}")
        assert "Config versions of" in ask(bot, alice, f"config {SERVICE}")

        alice.type(f"{SERVICE} {REASON}")
        channel = alice.channel(channel_prefix() + "-2")
        alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
        incident = open_incident_for_service(bot.rt.db, SERVICE)
        refused = ask(bot, dave, f"config {SERVICE}")
        assert f"You can't see the config versions of {SERVICE}" in refused and "Config versions of" not in refused
        audits = [e.text for e in timeline.events(bot.rt.db, incident.id) if e.kind == "audit"]
        assert any(VIEWER in a and f"see the config versions of {SERVICE}" in a for a in audits), audits

        assert incident.key not in ask(bot, dave, "status"), "dave is not in the private channel"
        assert incident.key in ask(bot, alice, "status"), "alice declared it, so she is in its channel"
        world.slack.fail_next("conversations.members", "fetch_members_failed")
        unsure = ask(bot, alice, "status")
        assert incident.key not in unsure and "1 private incident(s) could not be checked" in unsure
