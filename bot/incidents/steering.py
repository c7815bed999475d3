"""A person's hand on a running rollback: *Hold*, *Resume* and *Go to 0 now* during a canary step-down, and the
second person's *Delete* of a bad blue-green colour. The buttons carry the run's id (``ActionValue.plan_id``)."""

from __future__ import annotations

from bot.incidents import cards
from bot.incidents.caller import Caller
from bot.incidents.common import incident_for, quietly
from bot.incidents.events import record
from bot.incidents.permissions import Action, authorize
from bot.runtime import Runtime
from bot.slack.views import ActionValue
from bot.state import runs
from bot.state.models import Incident
from bot.strategies.base import RollbackError, plan_from_json
from bot.strategies.blue_green import ReleaseLive

SAID = {
    "hold": ":pause_button: <@{user}> held the canary step-down of {service} at its current weight. "
    "*Resume* or *Go to 0 now* on the incident card.",
    "resume": ":arrow_forward: <@{user}> resumed the canary step-down of {service}.",
    "zero": ":fast_forward: <@{user}> sent all of {service}'s traffic to the stable release now.",
}


def steer(rt: Runtime, value: ActionValue, caller: Caller, control: str) -> None:
    """Hold, resume or go to 0 %: written on the run; its step-down reads it within a second."""
    incident = incident_for(rt, value.incident_key, caller)
    service = incident and authorize(rt, incident, caller, Action.STEER)
    if not service:
        return
    run = runs.get_run(rt.db, value.plan_id) if value.plan_id else None
    if run is None or run.incident_id != incident.id or not runs.set_control(rt.db, run.id, control, caller.user_id):
        caller.reply("That step-down has already ended; nothing was changed. The incident card shows where it is now.")
        return
    quietly(rt.slack.post, incident.channel_id, SAID[control].format(user=caller.user_id, service=service.name))
    cards.refresh(rt, incident.id)


def delete_release(rt: Runtime, value: ActionValue, caller: Caller) -> None:
    """Delete the bad colour's Deployment: a second person (not who requested, confirmed or approved the
    rollback), an open incident, and a cluster that, read again now, shows the colour idle."""
    incident = incident_for(rt, value.incident_key, caller)
    service = incident and authorize(rt, incident, caller, Action.DELETE_RELEASE)
    if not service:
        return
    run = runs.get_run(rt.db, value.plan_id) if value.plan_id else None
    if run is None or run.incident_id != incident.id or run.status != "verified":
        caller.reply("Only the bad release of a verified switch can be deleted from here; nothing was changed.")
        return
    name = plan_from_json(run.plan).current.name
    if not incident.is_open:
        why, hint = f"{incident.key} is {incident.status}", f"If {service.name} needs action, declare a new incident."
        _refuse_delete(rt, incident, caller, name, why, "the incident is closed", hint)
        return
    if caller.user_id in (run.requested_by, run.confirmed_by, run.approved_by):
        why, hint = "it needs a second person, and you took part in this rollback", "Ask a teammate to click *Delete*."
        _refuse_delete(rt, incident, caller, name, why, "the caller took part in the rollback", hint)
        return
    try:
        rt.strategy_for(service).delete(plan_from_json(run.plan))
    except ReleaseLive as live:
        _refuse_delete(rt, incident, caller, name, str(live), str(live), "The incident card shows what is live now.")
        return
    except RollbackError as exc:
        caller.error(f"Deleting {name} failed", str(exc), "Nothing else was changed.")
        return
    record(rt, incident.id, "release_deleted", f"<@{caller.user_id}> deleted {name}", actor=caller.user_id)
    quietly(rt.slack.post, incident.channel_id, f":wastebasket: <@{caller.user_id}> deleted {name}.")


def _refuse_delete(
    rt: Runtime, incident: Incident, caller: Caller, name: str, why: str, audit: str, next_step: str = ""
) -> None:
    """A refused *Delete*: answered privately, changes nothing, recorded as an ``audit`` event."""
    caller.error(f"I won't delete {name}", f"{why}.", f"Nothing was changed. {next_step}".strip())
    record(
        rt,
        incident.id,
        "audit",
        f"<@{caller.user_id}> was refused: delete {name} ({audit})",
        actor=caller.user_id,
        data={"action": str(Action.DELETE_RELEASE)},
    )
