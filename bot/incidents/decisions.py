"""Deciding: the dry-run plan, Confirm / Cancel / Approve, forward fix, dismiss, and the emergency actions.

Every decision checks who is asking (``permissions``) and moves the incident through the
state machine (``states.MOVES``), so a refused or late click changes nothing and says why.
"""

from __future__ import annotations

import dataclasses

from bot import telemetry
from bot.config import ServiceConfig
from bot.incidents import cards
from bot.incidents.actors import Actor
from bot.incidents.common import incident_for, now, quietly, same_run, still_current, target
from bot.incidents.events import record
from bot.incidents.permissions import Action, authorize
from bot.incidents.plan_notes import with_safety
from bot.incidents.schema_notes import with_schema
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.views import ActionValue
from bot.state import plans, runs
from bot.state.incidents import WrongState, transition
from bot.state.models import Incident, PlanRow, RollbackRun
from bot.strategies import registry
from bot.strategies.base import Plan, RollbackError, Target, plan_from_json, plan_to_json, planned

STATE_WORDS = {
    "rolling_back": "a rollback is running",
    "resolved": "it is resolved",
    "dismissed": "it was dismissed",
    "mitigated": "it is mitigated",
    "forward_fix": "the team chose a forward fix",
    "open": "it is open",
}


def refuse_state(actor: Actor, incident: Incident | None, what: str) -> None:
    """Tell the person why this cannot be done in the incident's current state."""
    status = incident.status if incident else "gone"
    hint = {
        "rolling_back": "Follow the rollback on the pinned card; when it ends you can decide again.",
        "resolved": "Declare a new incident with `/rollback <service> <reason>` if it is back.",
        "dismissed": "Declare a new incident with `/rollback <service> <reason>` if it is back.",
    }.get(status, "Use the buttons on the pinned incident card.")
    key = incident.key if incident else "This incident"
    actor.error(f"I can't {what} now", f"{key}: {STATE_WORDS.get(status, status)}.", f"Nothing was changed. {hint}")


def _busy(rt: Runtime, service: str, actor: Actor) -> bool:
    run = runs.active_run(rt.db, service)
    if run is None:
        return False
    actor.reply(
        f"A rollback of {service} is already {run.status}, started by {views.user(run.requested_by)} at "
        f"{views.date(run.created_at, '{time_secs}', '%H:%M:%S UTC')}. "
        "Follow it on the incident card; I won't start a second one."
    )
    return True


def request_rollback(rt: Runtime, value: ActionValue, actor: Actor, env_only: bool = False) -> Plan | None:
    """Show the dry-run plan with Confirm / Cancel; nothing changes yet. ``env_only``: the plan that
    restores only the env of the revision and keeps the live image."""
    def action(incident: Incident) -> Action:
        chosen = value.revision and value.revision != incident.target_revision  # not what the card offers
        return Action.CHOOSE_REVISION if chosen else Action.ROLL_BACK

    # The card's buttons and pickers carry the run they were posted after; "Revert env only" is on a plan.
    clicked = still_current(rt, value, actor, action, None if env_only else same_run)
    if clicked is None:
        return None
    incident, service = clicked.incident, clicked.service
    if _busy(rt, service.name, actor):
        return None
    try:
        strategy = rt.strategy_for(service)
        plan = with_safety(planned(strategy, _target(service, value.revision, env_only)), service, strategy)
        plan = with_schema(rt, plan, service)
    except RollbackError as exc:
        actor.error(f"I can't plan a rollback of {service.name}", str(exc), "Nothing was changed.")
        return None
    row = plans.show(rt.db, incident.id, plan_to_json(plan), actor.id)
    after_run = clicked.latest.id if clicked.latest else 0
    blocks = views.plan_confirmation(plan, actor.id, service.require_approval, incident.key, row.id, after_run)
    ts = rt.slack.post(incident.channel_id, f"Rollback plan for {service.name}: nothing has changed yet", blocks)
    plans.set_message(rt.db, row.id, ts)
    record(
        rt,
        incident.id,
        "plan",
        _plan_summary(plan),
        actor=actor,
        data={"plan": plan_to_json(plan), "plan_id": row.id, "ts": ts},
    )
    return plan


def request_env_rollback(rt: Runtime, value: ActionValue, actor: Actor) -> Plan | None:
    """*Revert env only*: the runbook's ``FEATURE_FLAG_*`` patch, through the same plan, permission and run."""
    return request_rollback(rt, value, actor, env_only=True)


def _target(service: ServiceConfig, revision: int | None, env_only: bool) -> Target:
    if env_only and not registry.spec(service.strategy).env_only:
        able = ", ".join(n for n, s in registry.specs().items() if s.env_only and not s.planned)
        raise RollbackError(
            f"an env-only rollback is offered only by the {able} strategy; {service.name} uses "
            f"{service.strategy}. Use the plan's *Confirm rollback*, or patch the env by hand."
        )
    return dataclasses.replace(target(service, revision), env_only=env_only)


def _to_words(plan: Plan) -> str:
    """Where the rollback goes: ``v1.2.4 (revision 4)``, or ``the env of revision 4 (image v1.2.5 kept)``."""
    if plan.desired is None:
        return "?"
    if plan.target.env_only:
        return f"the env of revision {plan.desired.number} (image {plan.current.version} kept)"
    return plan.desired.words


def _plan_summary(plan: Plan) -> str:
    if plan.skipped:
        return f"Plan: nothing to do ({plan.skipped})"
    return f"Plan: roll back from {plan.current.words} to {_to_words(plan)}"


def _close_plan(rt: Runtime, incident: Incident, row: PlanRow, outcome: str) -> None:
    """Replace the plan's buttons by who decided, so nobody clicks it again."""
    row = plans.get(rt.db, row.id) or row  # read again: a fast click can beat the message's ts being stored
    if row.message_ts:
        blocks = views.plan_decided(plan_from_json(row.plan), row.requested_by, incident.key, outcome)
        quietly(rt.slack.update, incident.channel_id, row.message_ts, outcome, blocks)


def _plan_or_explain(rt: Runtime, value: ActionValue, incident: Incident, actor: Actor) -> PlanRow | None:
    row = plans.get(rt.db, value.plan_id) if value.plan_id else None
    if row is None or row.incident_id != incident.id:
        actor.error(
            "That plan is out of date",
            "I can't match this button to a plan of this incident.",
            "Nothing was changed. Use the buttons on the newest plan, or ask for a fresh one on the card.",
        )
        return None
    if row.status != "shown":
        _already_decided(actor, row)
        return None
    return row


def _already_decided(actor: Actor, row: PlanRow) -> None:
    if row.status == "superseded":
        actor.reply(
            "That plan is out of date: a newer plan was posted after it. Nothing was changed. "
            "Use the buttons on the newest plan."
        )
        return
    actor.reply(
        f"This plan was already {row.status} by {views.user(row.decided_by)}; nothing was changed now. "
        "To roll back again, use the buttons on the incident card: you will get a fresh plan."
    )


def confirm_rollback(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """Start the durable run (or ask for the second person's approval); the worker does the rest."""
    incident = incident_for(rt, value.incident_key, actor)
    configured = rt.catalog.get(incident.service) if incident else None
    action = Action.APPROVE if configured and configured.require_approval else Action.CONFIRM
    service = incident and authorize(rt, incident, actor, action)
    if not service:
        return
    row = _plan_or_explain(rt, value, incident, actor)
    if row is None:
        return
    plan = plan_from_json(row.plan)
    if plan.skipped:
        actor.reply(f"Nothing to roll back: {service.name} is {plan.skipped}.")
        return
    if service.require_approval and actor.id == row.requested_by:
        actor.reply(
            f"{service.name} needs a second person to approve. Ask a teammate to click *Approve* on "
            "the plan; nothing has changed yet."
        )
        return
    run = _start_run(rt, service, row, plan, actor)
    if run is not None:
        _started(rt, incident, service, row, plan, run, actor)


def _start_run(rt: Runtime, service: ServiceConfig, row: PlanRow, plan: Plan, actor: Actor) -> RollbackRun | None:
    """The plan, confirmed, becomes a pending run; None (and why, to the actor) when that is no longer possible."""
    try:
        return plans.confirm(
            rt.db,
            row.id,
            actor.id,
            service=service.name,
            strategy=service.strategy,
            target={"to_revision": plan.desired.number, "image": plan.desired.image},
            steps=rt.run_steps(service),
            approved_by=actor.id if service.require_approval else None,
            target_revision=plan.desired.number,
            target_image=plan.desired.image,
        )
    except plans.PlanDecided as exc:
        _already_decided(actor, exc.plan)
    except runs.RunAlreadyActive:
        _busy(rt, service.name, actor)
    except WrongState as exc:
        refuse_state(actor, exc.incident, "start a rollback")
    return None


def _started(
    rt: Runtime, incident: Incident, service: ServiceConfig, row: PlanRow, plan: Plan, run: RollbackRun, actor: Actor
) -> None:
    """Record the decision, close the plan, tell the channel, and wake the worker."""
    telemetry.decided(incident.created_at, "rollback")
    what = f"Roll back to {_to_words(plan)}"
    record(
        rt,
        incident.id,
        "decision",
        f"{actor.mention} confirmed the rollback to {_to_words(plan)}",
        actor=actor,
        data={"run_id": run.id, "plan_id": row.id, "plan_decision": "confirmed", "what": what},
    )
    _close_plan(
        rt,
        incident,
        row,
        f":arrow_forward: Confirmed by {actor.mention}: rolling back now. Progress shows on the pinned incident card.",
    )
    quietly(
        rt.slack.post,
        incident.channel_id,
        f"{actor.mention} started the rollback of {service.name} to "
        f"{_to_words(plan) if plan.target.env_only else plan.desired.version}. "
        "Progress shows on the pinned incident card; I will post here when it is verified or if it fails.",
    )
    cards.refresh(rt, incident.id)
    rt.wake_worker.set()


def cancel_rollback(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    incident = incident_for(rt, value.incident_key, actor)
    if not incident or not authorize(rt, incident, actor, Action.CANCEL):
        return
    row = _plan_or_explain(rt, value, incident, actor)
    if row is None:
        return
    try:
        plans.cancel(rt.db, row.id, actor.id)
    except plans.PlanDecided as exc:
        _already_decided(actor, exc.plan)
        return
    record(
        rt,
        incident.id,
        "decision",
        f"{actor.mention} cancelled the rollback plan",
        actor=actor,
        data={"plan_id": row.id, "plan_decision": "cancelled"},
    )
    _close_plan(rt, incident, row, f":no_entry_sign: Cancelled by {actor.mention}. Nothing was changed.")
    actor.reply("Cancelled. Nothing was changed; the incident card still has the rollback buttons.")


def _decide(
    rt: Runtime, value: ActionValue, actor: Actor, action: Action, move: str, event: str, message: str, **fields
) -> None:
    """A decision without a rollback: check who asks, move the incident, record it, tell the channel."""
    incident = incident_for(rt, value.incident_key, actor)
    if not incident or not authorize(rt, incident, actor, action):
        return
    try:
        transition(rt.db, incident.id, move, **fields)
    except WrongState as exc:
        refuse_state(actor, exc.incident, str(action))
        return
    telemetry.decided(incident.created_at, move)
    who = f"{actor.mention}"
    record(
        rt,
        incident.id,
        "decision" if move == "forward_fix" else "dismissed",
        event.format(who=who),
        actor=actor,
    )
    quietly(rt.slack.post, incident.channel_id, message.format(who=who, key=incident.key))
    cards.refresh(rt, incident.id)


def forward_fix(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    _decide(
        rt,
        value,
        actor,
        Action.FORWARD_FIX,
        "forward_fix",
        "{who} chose a forward fix instead of a rollback",
        "{who} chose a *forward fix*: no rollback for now. The rollback buttons stay on the card if the fix "
        "does not land. Post updates with `/rollback update`.",
    )


def dismiss(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    _decide(
        rt,
        value,
        actor,
        Action.DISMISS,
        "dismiss",
        "{who} dismissed the incident",
        "{who} dismissed {key}: no action taken. Declare again with `/rollback` if it comes back.",
        resolved_at=now(),
    )


def scale_to_zero(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """The failure card's stop button (*Scale to zero*, *All traffic to stable now*): only for the failure it
    was posted for; a stale one must never stop a service a later rollback made healthy."""
    clicked = still_current(rt, value, actor, Action.SCALE_TO_ZERO, same_run)
    if clicked is None:
        return
    incident, service = clicked.incident, clicked.service
    stop = registry.emergency(service.strategy).stop
    try:
        said = rt.strategy_for(service).scale(target(service), 0)
    except RollbackError as exc:
        actor.error(f"{stop} ({service.name}) failed", str(exc), "Nothing else was changed.")
        return
    if isinstance(said, str):  # a strategy whose stop is not a scale (vm-release: roll the hosts forward)
        record(rt, incident.id, "emergency", f"{actor.mention}: {stop}: {said}", actor=actor)
        quietly(rt.slack.post, incident.channel_id, f":octagonal_sign: {actor.mention} clicked *{stop}*: {said}.")
        return
    record(rt, incident.id, "emergency", f"{actor.mention} scaled {service.name} to zero", actor=actor)
    quietly(
        rt.slack.post,
        incident.channel_id,
        f":octagonal_sign: {actor.mention} scaled {service.name} to zero "
        "replicas. It serves no traffic now. Scale it back up once a good version is ready.",
    )
