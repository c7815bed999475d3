"""A person's hand on a running rollback: *Hold*, *Resume* and *Go to 0 now* during a canary step-down, and the
second person's *Delete* of a bad blue-green colour. The buttons carry the run's id (``ActionValue.plan_id``)."""

from __future__ import annotations

from functools import partial

from bot.incidents import cards
from bot.incidents.actors import Actor
from bot.incidents.common import RUN_WORDS, Clicked, Stale, incident_for, quietly, same_run, still_current
from bot.incidents.events import record
from bot.incidents.permissions import Action, authorize
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.views import ActionValue
from bot.state import runs
from bot.state.models import Incident
from bot.strategies.base import ReleaseLive, RollbackError, plan_from_json

SAID = {
    "hold": ":pause_button: {who} held the canary step-down of {service} at its current weight. "
    "*Resume* or *Go to 0 now* on the incident card.",
    "resume": ":arrow_forward: {who} resumed the canary step-down of {service}.",
    "zero": ":fast_forward: {who} sent all of {service}'s traffic to the stable release now.",
}


def steer(rt: Runtime, value: ActionValue, actor: Actor, control: str) -> None:
    """Hold, resume or go to 0 %: written on the run; its step-down reads it within a second. Only while that
    run steps down, and only as a change: a stale *Hold* must never undo someone's *Go to 0 now*."""
    clicked = still_current(rt, value, actor, Action.STEER, partial(_stepping_down, control=control))
    if clicked is None:
        return
    incident, service = clicked.incident, clicked.service
    if not runs.set_control(rt.db, clicked.latest.id, control, actor.id):
        actor.reply("That step-down has just ended; nothing was changed. The incident card shows where it is now.")
        return
    quietly(rt.slack.post, incident.channel_id, SAID[control].format(who=actor.mention, service=service.name))
    cards.refresh(rt, incident.id)


def _stepping_down(rt: Runtime, value: ActionValue, clicked: Clicked, control: str) -> Stale | None:
    """The button's run is the latest, still steps its canary down, and ``control`` changes something."""
    stale = same_run(rt, value, clicked)
    if stale:
        return stale
    run, name = clicked.latest, clicked.service.name
    if run is None:
        return Stale(f"{clicked.incident.key} has no rollback to steer")
    by = views.user(run.control_by or "")
    if run.control == "zero":
        return Stale(
            f"{by} already sent all of {name}'s traffic to the stable release (*Go to 0 now*); "
            f"the rollback (run {run.id}) {RUN_WORDS.get(run.status, run.status)}",
            "The incident card shows where it is now.",
        )
    if run.status != "running" or not any(s.name == "step down" and s.status == "running" for s in run.steps):
        return Stale(
            f"The step-down of run {run.id} has ended: the rollback {RUN_WORDS.get(run.status, run.status)}",
            "The incident card shows what you can do now.",
        )
    if control == "hold" and run.control == "hold":
        return Stale(f"The step-down of {name} is already held, by {by}", "*Resume* or *Go to 0 now* on the card.")
    if control == "resume" and run.control != "hold":
        return Stale(f"The step-down of {name} is not held: it goes on", "*Hold* or *Go to 0 now* on the card.")
    return None


def delete_release(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """Delete the bad colour's Deployment: a second person (not who requested, confirmed or approved the
    rollback), an open incident, and a cluster that, read again now, shows the colour idle."""
    incident = incident_for(rt, value.incident_key, actor)
    service = incident and authorize(rt, incident, actor, Action.DELETE_RELEASE)
    if not service:
        return
    run = runs.get_run(rt.db, value.plan_id) if value.plan_id else None
    if run is None or run.incident_id != incident.id or run.status != "verified":
        actor.reply("Only the bad release of a verified switch can be deleted from here; nothing was changed.")
        return
    name = plan_from_json(run.plan).current.name
    if not incident.is_open:
        why, hint = f"{incident.key} is {incident.status}", f"If {service.name} needs action, declare a new incident."
        _refuse_delete(rt, incident, actor, name, why, "the incident is closed", hint)
        return
    if actor.id in (run.requested_by, run.confirmed_by, run.approved_by):
        why, hint = "it needs a second person, and you took part in this rollback", "Ask a teammate to click *Delete*."
        _refuse_delete(rt, incident, actor, name, why, "the actor took part in the rollback", hint)
        return
    try:
        rt.strategy_for(service).delete(plan_from_json(run.plan))
    except ReleaseLive as live:
        _refuse_delete(rt, incident, actor, name, str(live), str(live), "The incident card shows what is live now.")
        return
    except RollbackError as exc:
        actor.error(f"Deleting {name} failed", str(exc), "Nothing else was changed.")
        return
    record(rt, incident.id, "release_deleted", f"{actor.mention} deleted {name}", actor=actor)
    quietly(rt.slack.post, incident.channel_id, f":wastebasket: {actor.mention} deleted {name}.")


def _refuse_delete(
    rt: Runtime, incident: Incident, actor: Actor, name: str, why: str, audit: str, next_step: str = ""
) -> None:
    """A refused *Delete*: answered privately, changes nothing, recorded as an ``audit`` event."""
    actor.error(f"I won't delete {name}", f"{why}.", f"Nothing was changed. {next_step}".strip())
    record(
        rt,
        incident.id,
        "audit",
        f"{actor.mention} was refused: delete {name} ({audit})",
        actor=actor,
        data={"action": str(Action.DELETE_RELEASE)},
    )
