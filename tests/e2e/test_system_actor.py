"""An incident declared by a system (no Slack user): its channel, its pinned card, a timeline that says who
acted, and what such an actor is refused (answered in the log and audited, never by a Slack message)."""

from __future__ import annotations

import logging

from bot.incidents import decisions
from bot.incidents.actors import SystemActor
from bot.incidents.cards import incident_in_channel
from bot.incidents.declare import declare
from bot.sandbox.harness import wait_for
from bot.sandbox.world import OWNER
from bot.slack.views import ActionId, ActionValue
from bot.state import timeline
from tests.e2e.conftest import SERVICE, channel_prefix

ALERTMANAGER = SystemActor("alertmanager")


def events_of(bot, incident_id: int, kind: str) -> list:
    return [e for e in timeline.events(bot.rt.db, incident_id) if e.kind == kind]


def test_a_system_actor_declares_and_proposes_but_is_refused_what_only_people_may_do(world, bot, alice, caplog):
    incident = declare(bot.rt, SERVICE, "HighErrorRate firing", ALERTMANAGER)
    channel = alice.channel(channel_prefix())
    card = alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    info = wait_for("the card to be pinned", lambda: (i := world.slack.channel_by_name(channel.name))["pins"] and i)
    assert card["ts"] in info["pins"] and OWNER in info["members"], "the owners are invited; there is no person"
    assert "system:alertmanager" in world.slack.transcript(channel.id), "the card says who declared it"

    incident = incident_in_channel(bot.rt, channel.id)
    assert (incident.declared_by, incident.lead_user_id) == ("system:alertmanager", None)
    (declared,) = events_of(bot, incident.id, "declared")
    assert declared.actor == "system:alertmanager"
    assert declared.data == {
        "reason": "HighErrorRate firing",
        "declared": [],
        "actor": {"kind": "system", "name": "alertmanager"},
    }

    # It may propose: the dry-run plan is posted for a person to confirm.
    decisions.request_rollback(bot.rt, ActionValue(incident.key), ALERTMANAGER)
    plan = alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    (proposed,) = events_of(bot, incident.id, "plan")
    assert proposed.actor == "system:alertmanager"

    # It may not confirm (the catalog does not name it) nor dismiss: refused, audited, logged; no Slack message.
    posted = len(world.slack.calls("chat.postMessage")) + len(world.slack.responses())
    plan_value = ActionValue(incident.key, None, proposed.data["plan_id"])
    with caplog.at_level(logging.WARNING, logger="bot.incidents.actors"):
        decisions.confirm_rollback(bot.rt, plan_value, ALERTMANAGER)
        decisions.dismiss(bot.rt, ActionValue(incident.key), ALERTMANAGER)
    assert len(world.slack.calls("chat.postMessage")) + len(world.slack.responses()) == posted
    audit = events_of(bot, incident.id, "audit")
    assert [(e.actor, e.data["action"], e.data["actor"]) for e in audit] == [
        ("system:alertmanager", "confirm", {"kind": "system", "name": "alertmanager"}),
        ("system:alertmanager", "dismiss", {"kind": "system", "name": "alertmanager"}),
    ]
    assert all("system: alertmanager was refused" in e.text for e in audit)
    logged = [r for r in caplog.records if r.name == "bot.incidents.actors" and r.levelno >= logging.WARNING]
    refusals = [r.getMessage() for r in logged]
    assert len(refusals) == 2 and all("must name system:alertmanager" in r for r in refusals)
    assert incident_in_channel(bot.rt, channel.id).status == "open", "nothing changed"

    # A person confirms the system's plan: the rollback starts, and the timeline says who decided.
    response = bot.driver.click(alice.user, plan, ActionId.CONFIRM_ROLLBACK, channel_id=channel.id)
    assert response.status_code == 200
    alice.message_saying(channel.id, "started the rollback")
    (decision,) = events_of(bot, incident.id, "decision")
    assert decision.actor == alice.user and decision.data["actor"] == {"kind": "slack", "id": alice.user}
