"""The incident lifecycle: declare, assess, decide, resolve.

Every function here is called by one thin Slack listener after it acked. Anything
that takes longer than a Slack round trip (the rollback itself) is handed to the
worker as a durable run; nothing here holds a listener thread for a rollback.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot import reports
from bot.config import ServiceConfig
from bot.incidents import cards
from bot.incidents.parse import parse
from bot.reports import render_postmortem, render_status_update
from bot.runtime import Runtime
from bot.signals.severity import Severity, assess
from bot.slack import views as slack_views
from bot.slack.gateway import SlackFailure
from bot.state import runs, timeline
from bot.state.incidents import create_incident, get_incident, open_incident_for_service, update_incident
from bot.state.models import ActionItem, Incident
from bot.strategies.base import Plan, RollbackError, Target, plan_from_json, plan_to_json, revision_to_json

log = logging.getLogger(__name__)

RUN_STEPS = ("pre-checks", "backup", "rollback", "wait for rollout", "verify")


@dataclass(frozen=True)
class Caller:
    """Who is asking, where, and how to answer them privately."""

    user_id: str
    channel_id: str
    trigger_id: str
    reply: Callable[..., None]

    def error(self, title: str, what_happened: str, what_next: str) -> None:
        """An ephemeral error; all of it is escaped, so user input echoed back cannot ping or link."""
        text = slack_views.escape(f"{title}: {what_happened} {what_next}")
        self.reply(text, slack_views.error_blocks(title, what_happened, what_next))


# ----------------------------------------------------------------------------- commands


def on_command(rt: Runtime, text: str, caller: Caller) -> None:
    cmd = parse(text)
    if cmd.kind == "invalid":
        caller.error("I could not read that command", cmd.error, "Nothing was changed. Try `/rollback help`.")
    elif cmd.kind == "help":
        caller.reply("How to use /rollback", slack_views.help_blocks())
    elif cmd.kind == "status":
        caller.reply("Open incidents", slack_views.status_blocks(cards.open_incident_summaries(rt)))
    elif cmd.kind == "history":
        show_history(rt, cmd.service, caller)
    elif cmd.kind == "declare_modal":
        rt.slack.open_view(caller.trigger_id, slack_views.declare_modal(sorted(rt.catalog.services)))
    elif cmd.kind == "resolve":
        open_resolve(rt, cmd.incident, caller)
    elif cmd.kind == "update":
        open_status_update(rt, "", caller)
    else:
        declare(rt, cmd.service, cmd.reason, caller)


def _service_or_explain(rt: Runtime, name: str, caller: Caller) -> ServiceConfig | None:
    service = rt.catalog.get(name)
    if service is None:
        known = ", ".join(f"`{s}`" for s in sorted(rt.catalog.services)) or "none yet"
        caller.error(
            f"I don't know a service called `{name}`",
            f"It is not in the services catalog. Known services: {known}.",
            "Nothing was changed. Check the spelling, or ask the service owners to add it to the catalog.",
        )
    return service


def show_history(rt: Runtime, name: str, caller: Caller) -> None:
    service = _service_or_explain(rt, name, caller)
    if service is None:
        return
    try:
        revisions = rt.strategy_for(service).history(_target(service))
    except RollbackError as exc:
        caller.error(f"I could not read the history of {name}", str(exc), "Nothing was changed.")
        return
    caller.reply(f"Rollout history of {name}", slack_views.history_blocks(name, revisions))


# ------------------------------------------------------------------------------ declare


def _target(service: ServiceConfig, to_revision: int | None = None) -> Target:
    return Target(
        service=service.name,
        namespace=service.namespace,
        workload=service.deployment,
        container=service.container or "",
        to_revision=to_revision,
    )


def declare(rt: Runtime, name: str, reason: str, caller: Caller) -> Incident | None:
    """Open the incident: record it, open its channel, assess it, post and pin the card, announce it."""
    service = _service_or_explain(rt, name, caller)
    if service is None:
        return None
    existing = open_incident_for_service(rt.db, service.name)
    if existing is not None:
        where = f"<#{existing.channel_id}>" if existing.channel_id else "its channel"
        caller.reply(
            f"{existing.key} is already open for {service.name} in {where}. "
            "Join it there; I did not open a second incident."
        )
        return existing
    incident = create_incident(rt.db, service.name, service.namespace, reason, caller.user_id)
    timeline.record(
        rt.db,
        incident.id,
        "declared",
        f"Incident declared: {reason or 'no reason given'}",
        actor=caller.user_id,
        data={"reason": reason},
    )
    caller.reply(
        f"Declared {incident.key} for {service.name}. Opening the incident channel and reading its health now."
    )
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="declare") as pool:
        assessing = pool.submit(assess_incident, rt, incident, service)
        try:
            channel = rt.slack.create_channel(f"inc-{incident.created_at:%Y%m%d}-{service.name}")
        except SlackFailure as exc:
            assessing.result()
            timeline.record(rt.db, incident.id, "note", f"Could not create the incident channel: {exc.error}")
            caller.error(
                f"{incident.key} is recorded, but Slack refused to create its channel",
                exc.error,
                "Create a channel by hand and invite the owners; I will keep the timeline.",
            )
            return incident
        incident = update_incident(
            rt.db, incident.id, channel_id=channel.id, channel_name=channel.name, lead_user_id=caller.user_id
        )
        refused = rt.slack.invite(channel.id, [caller.user_id, *service.owners])
        _quietly(
            rt.slack.set_topic,
            channel.id,
            f"{incident.key} · {service.name} · {reason or 'rollback under consideration'}",
        )
        incident = assessing.result()
    card_ts = rt.slack.post(channel.id, *cards.card_message(rt, incident))
    incident = update_incident(rt.db, incident.id, card_ts=card_ts)
    _quietly(rt.slack.pin, channel.id, card_ts)
    timeline.record(
        rt.db,
        incident.id,
        "channel",
        f"Incident channel #{channel.name} opened",
        data={"channel_id": channel.id, "invited": [caller.user_id, *service.owners], "not_invited": refused},
    )
    announce(rt, incident, slack_views.announcement(cards.card_info(rt, incident)))
    return incident


def declare_from_modal(rt: Runtime, user_id: str, service: str, reason: str) -> Incident | None:
    """The service picker's submission; answers go to the user's direct messages."""

    def reply(text: str, blocks: list[dict] | None = None) -> None:
        _quietly(rt.slack.post, user_id, text, blocks)

    return declare(rt, service, reason, Caller(user_id=user_id, channel_id="", trigger_id="", reply=reply))


def assess_incident(rt: Runtime, incident: Incident, service: ServiceConfig) -> Incident:
    """Read the signals and the rollout history in parallel, rate the severity, record both."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="assess") as pool:
        readings = pool.submit(rt.metrics.read, service)
        history = pool.submit(lambda: rt.strategy_for(service).history(_target(service)))
        assessment = assess(readings.result(), service.thresholds)
        try:
            revisions = history.result()
        except RollbackError as exc:
            revisions = []
            timeline.record(rt.db, incident.id, "note", f"Could not read the rollout history: {exc}")
    current = revisions[-1] if revisions else None
    target = revisions[-2] if len(revisions) > 1 else None
    incident = update_incident(
        rt.db,
        incident.id,
        severity=assessment.severity.value,
        assessment={
            **cards.assessment_to_json(assessment),
            "history": [revision_to_json(r) for r in revisions],
        },
        current_revision=current.number if current else None,
        current_image=current.image if current else None,
        target_revision=target.number if target else None,
        target_image=target.image if target else None,
    )
    timeline.record(
        rt.db,
        incident.id,
        "assessed",
        f"Severity {assessment.severity.value}: " + ("; ".join(assessment.reasons) or "no threshold breached"),
        data={
            "severity": assessment.severity.value,
            "reasons": list(assessment.reasons),
            "signals": {s.name: s.value for s in assessment.signals},
            "current": current.image if current else None,
        },
    )
    return incident


def announce(rt: Runtime, incident: Incident, blocks: list[dict]) -> None:
    """Post to the announcements channel; a failure there must not stop the incident."""
    channel = rt.catalog.announcements_channel
    if not channel:
        return
    try:
        rt.slack.post(rt.slack.channel_id(channel), f"{incident.key}: {incident.service}", blocks)
    except SlackFailure as exc:
        log.warning("announcement for %s failed: %s", incident.key, exc)
        timeline.record(rt.db, incident.id, "note", f"Could not post to {channel}: {exc.error}")


def _quietly(fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except SlackFailure as exc:
        log.warning("%s", exc)


# ------------------------------------------------------------------------------- decide


def _incident_for(rt: Runtime, key: str, caller: Caller) -> Incident | None:
    incident = get_incident(rt.db, key) if key else None
    if incident is None and caller.channel_id:
        incident = cards.incident_in_channel(rt, caller.channel_id)
    if incident is None:
        caller.error(
            "I can't find that incident",
            f"There is no incident {key or 'in this channel'}.",
            "Use `/rollback status` to list the open incidents.",
        )
    return incident


def _allowed(rt: Runtime, incident: Incident, caller: Caller) -> ServiceConfig | None:
    service = rt.catalog.get(incident.service)
    if service is None:
        caller.error(
            "This service left the catalog",
            f"{incident.service} is no longer configured.",
            "Nothing was changed. Ask an admin to restore its catalog entry.",
        )
        return None
    if not service.may_roll_back(caller.user_id):
        allowed = ", ".join(rt.slack.user_name(u) for u in service.rollback_allowed)
        caller.error(
            f"You can't roll back {service.name}",
            f"Only {allowed} may roll back {service.name} (services catalog).",
            "Nothing was changed. Ask one of them, or the service owners, to click the button.",
        )
        return None
    if not incident.is_open:
        caller.error(
            f"{incident.key} is {incident.status}",
            "Closed incidents cannot be rolled back.",
            f"Declare a new one with `/rollback {service.name} <reason>`.",
        )
        return None
    return service


def _busy(rt: Runtime, service: str, caller: Caller) -> bool:
    run = runs.active_run(rt.db, service)
    if run is None:
        return False
    caller.reply(
        f"A rollback of {service} is already {run.status}, started by <@{run.requested_by}> at "
        f"{run.created_at:%H:%M:%S} UTC. Follow it on the incident card; I won't start a second one."
    )
    return True


def request_rollback(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> Plan | None:
    """Show the dry-run plan with Confirm / Cancel; nothing changes yet."""
    incident = _incident_for(rt, key, caller)
    service = incident and _allowed(rt, incident, caller)
    if not service or _busy(rt, service.name, caller):
        return None
    try:
        plan = rt.strategy_for(service).plan(_target(service, revision))
    except RollbackError as exc:
        caller.error(f"I can't plan a rollback of {service.name}", str(exc), "Nothing was changed.")
        return None
    blocks = slack_views.plan_confirmation(plan, caller.user_id, service.require_approval, incident.key)
    ts = rt.slack.post(incident.channel_id, f"Rollback plan for {service.name}: nothing has changed yet", blocks)
    timeline.record(
        rt.db,
        incident.id,
        "plan",
        _plan_summary(plan),
        actor=caller.user_id,
        data={"plan": plan_to_json(plan), "ts": ts},
    )
    return plan


def _plan_summary(plan: Plan) -> str:
    if plan.skipped:
        return f"Plan: nothing to do ({plan.skipped})"
    to = f"{plan.desired.version} (revision {plan.desired.number})" if plan.desired else "?"
    return f"Plan: roll back from {plan.current.version} (revision {plan.current.number}) to {to}"


@dataclass(frozen=True)
class ShownPlan:
    """The newest plan posted in the channel, who asked for it, and who decided on it (if anyone)."""

    plan: Plan
    requested_by: str
    ts: str
    decided_by: str | None
    decision: str | None  # "confirmed" | "cancelled"


def _shown_plan(rt: Runtime, incident: Incident) -> ShownPlan | None:
    events = timeline.events(rt.db, incident.id)
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if event.kind == "plan" and event.data and "plan" in event.data:
            later = [e for e in events[i + 1 :] if e.kind == "decision" and (e.data or {}).get("plan_decision")]
            decided = later[0] if later else None
            return ShownPlan(
                plan=plan_from_json(event.data["plan"]),
                requested_by=event.actor,
                ts=event.data.get("ts", ""),
                decided_by=decided.actor if decided else None,
                decision=decided.data["plan_decision"] if decided else None,
            )
    return None


def _close_plan(rt: Runtime, incident: Incident, shown: ShownPlan, outcome: str) -> None:
    """Replace the plan's buttons by who decided, so nobody confirms it twice."""
    if shown.ts:
        blocks = slack_views.plan_decided(shown.plan, shown.requested_by, incident.key, outcome)
        _quietly(rt.slack.update, incident.channel_id, shown.ts, outcome, blocks)


def confirm_rollback(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    """Start the durable run (or ask for the second person's approval); the worker does the rest."""
    incident = _incident_for(rt, key, caller)
    service = incident and _allowed(rt, incident, caller)
    if not service:
        return
    if _busy(rt, service.name, caller):
        return
    shown = _shown_plan(rt, incident)
    plan = shown.plan if shown else None
    if plan is None or (revision is not None and plan.desired and plan.desired.number != revision):
        caller.error(
            "That plan is out of date",
            "A newer plan was posted after the one you clicked.",
            "Nothing was changed. Use the buttons on the newest plan.",
        )
        return
    if shown.decided_by:
        caller.reply(
            f"This plan was already {shown.decision} by <@{shown.decided_by}>; nothing was changed now. "
            "To roll back again, use the buttons on the incident card: you will get a fresh plan."
        )
        return
    if plan.skipped:
        caller.reply(f"Nothing to roll back: {service.name} is {plan.skipped}.")
        return
    requester = shown.requested_by
    if service.require_approval and caller.user_id == requester:
        caller.reply(
            f"{service.name} needs a second person to approve. Ask a teammate to click *Approve* on "
            "the plan; nothing has changed yet."
        )
        return
    try:
        run = runs.start_run(
            rt.db,
            incident.id,
            service.name,
            service.strategy,
            target={
                "to_revision": plan.desired.number if plan.desired else None,
                "image": plan.desired.image if plan.desired else None,
            },
            plan=plan_to_json(plan),
            requested_by=requester or caller.user_id,
            steps=list(RUN_STEPS),
            approved_by=caller.user_id if service.require_approval else None,
        )
    except runs.RunAlreadyActive:
        _busy(rt, service.name, caller)
        return
    update_incident(
        rt.db,
        incident.id,
        status="rolling_back",
        target_revision=plan.desired.number,
        target_image=plan.desired.image,
    )
    timeline.record(
        rt.db,
        incident.id,
        "decision",
        f"<@{caller.user_id}> confirmed the rollback to {plan.desired.version} (revision {plan.desired.number})",
        actor=caller.user_id,
        data={
            "run_id": run.id,
            "plan_decision": "confirmed",
            "what": f"Roll back to {plan.desired.version} (revision {plan.desired.number})",
        },
    )
    _close_plan(
        rt,
        incident,
        shown,
        f":arrow_forward: Confirmed by <@{caller.user_id}>: rolling back now. "
        "Progress shows on the pinned incident card.",
    )
    rt.slack.post(
        incident.channel_id,
        f"<@{caller.user_id}> started the rollback of {service.name} to {plan.desired.version}. "
        "Progress shows on the pinned incident card; I will post here when it is verified or if it fails.",
    )
    cards.refresh(rt, incident.id)
    rt.wake_worker.set()


def cancel_rollback(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    incident = _incident_for(rt, key, caller)
    shown = incident and _shown_plan(rt, incident)
    if not shown:
        return
    if shown.decided_by:
        caller.reply(f"This plan was already {shown.decision} by <@{shown.decided_by}>.")
        return
    timeline.record(
        rt.db,
        incident.id,
        "decision",
        f"<@{caller.user_id}> cancelled the rollback plan",
        actor=caller.user_id,
        data={"plan_decision": "cancelled"},
    )
    _close_plan(rt, incident, shown, f":no_entry_sign: Cancelled by <@{caller.user_id}>. Nothing was changed.")
    caller.reply("Cancelled. Nothing was changed; the incident card still has the rollback buttons.")


def _decide(rt: Runtime, incident: Incident, caller: Caller, kind: str, event: str, message: str, **fields) -> None:
    """A decision without a rollback: record it, tell the channel, redraw the card."""
    update_incident(rt.db, incident.id, **fields)
    timeline.record(rt.db, incident.id, kind, event, actor=caller.user_id)
    rt.slack.post(incident.channel_id, message)
    cards.refresh(rt, incident.id)


def forward_fix(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    incident = _incident_for(rt, key, caller)
    if incident is None:
        return
    who = f"<@{caller.user_id}>"
    _decide(
        rt,
        incident,
        caller,
        "decision",
        f"{who} chose a forward fix instead of a rollback",
        f"{who} chose a *forward fix*: no rollback for now. The rollback buttons stay on the card if the fix "
        "does not land. Post updates with `/rollback update`.",
        status="monitoring",
    )


def dismiss(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    incident = _incident_for(rt, key, caller)
    if incident is None or _busy(rt, incident.service, caller):
        return
    who = f"<@{caller.user_id}>"
    _decide(
        rt,
        incident,
        caller,
        "dismissed",
        f"{who} dismissed the incident",
        f"{who} dismissed {incident.key}: no action taken. Declare again with `/rollback` if it comes back.",
        status="dismissed",
        resolved_at=_now(),
    )


def scale_to_zero(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    incident = _incident_for(rt, key, caller)
    service = incident and _allowed(rt, incident, caller)
    if not service:
        return
    try:
        rt.strategy_for(service).scale(_target(service), 0)
    except RollbackError as exc:
        caller.error(f"Scaling {service.name} to zero failed", str(exc), "Nothing else was changed.")
        return
    timeline.record(
        rt.db,
        incident.id,
        "emergency",
        f"<@{caller.user_id}> scaled {service.name} to zero",
        actor=caller.user_id,
    )
    rt.slack.post(
        incident.channel_id,
        f":octagonal_sign: <@{caller.user_id}> scaled {service.name} to zero "
        "replicas. It serves no traffic now. Scale it back up once a good version is ready.",
    )


def page_escalation(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    incident = _incident_for(rt, key, caller)
    if incident is None:
        return
    service = rt.catalog.get(incident.service)
    contact = service.escalation if service else None
    if not contact:
        caller.reply("No escalation contact is configured for this service; page your on-call lead by hand.")
        return
    refused = rt.slack.invite(incident.channel_id, [contact])
    rt.slack.post(
        incident.channel_id,
        f":rotating_light: <@{contact}>, you are paged for {incident.key} "
        f"by <@{caller.user_id}>: the rollback of {incident.service} needs help.",
    )
    timeline.record(
        rt.db,
        incident.id,
        "escalated",
        f"<@{caller.user_id}> paged <@{contact}>",
        actor=caller.user_id,
        data={"not_invited": refused},
    )


def on_mention(rt: Runtime, channel: str, ts: str) -> None:
    _quietly(rt.slack.post, channel, "I roll deployments back. Type `/rollback help` to see how.")


# ---------------------------------------------------------------- updates and resolve


def open_status_update(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    incident = _incident_for(rt, key, caller)
    if incident is not None:
        rt.slack.open_view(caller.trigger_id, slack_views.status_update_modal(incident.key))


def post_status_update(rt: Runtime, key: str, user_id: str, form: slack_views.StatusUpdateForm) -> None:
    """A stakeholder update, to the incident channel and the announcements channel."""
    incident = get_incident(rt.db, key)
    if incident is None or not incident.channel_id:
        return
    now = _now()
    rendered = render_status_update(
        reports.StatusUpdateInput(
            incident_key=incident.key,
            service=incident.service,
            status=form.status,
            summary=form.summary,
            author=user_id,
            posted_at=now,
            next_steps=form.next_steps,
            next_update_at=now + dt.timedelta(minutes=form.next_update_minutes) if form.next_update_minutes else None,
            severity=Severity(incident.severity) if incident.severity else None,
            channel_id=incident.channel_id,
        )
    )
    blocks = slack_views.status_update_blocks(rendered)
    ts = rt.slack.post(incident.channel_id, f"Update on {incident.key}: {form.status}", blocks)
    timeline.record(
        rt.db,
        incident.id,
        "status_update",
        f"{form.status}: {form.summary}",
        actor=user_id,
        data={"ts": ts, "next_update_minutes": form.next_update_minutes},
    )
    announce(rt, incident, blocks)


def open_resolve(rt: Runtime, key: str, caller: Caller, revision: int | None = None) -> None:
    incident = _incident_for(rt, key, caller)
    if incident is None:
        return
    if not incident.is_open:
        caller.reply(
            f"{incident.key} is already {incident.status}. `rollback-bot report {incident.key}` prints its postmortem."
        )
        return
    rt.slack.open_view(caller.trigger_id, slack_views.resolve_modal(incident.key))


def resolve(rt: Runtime, key: str, user_id: str, form: slack_views.ResolveForm) -> str | None:
    """Close the incident, render the postmortem from the record, upload it; returns its path."""
    incident = get_incident(rt.db, key)
    if incident is None or not incident.is_open:
        return None

    def add_items(session) -> None:
        for item in form.action_items:
            session.add(ActionItem(incident_id=incident.id, text=item.text, owner=item.owner or None, due=item.due))

    rt.db.transaction(add_items)
    incident = update_incident(
        rt.db,
        incident.id,
        status="resolved",
        resolved_at=_now(),
        root_cause=form.root_cause,
        impact=form.impact,
        lessons=form.lessons,
    )
    timeline.record(rt.db, incident.id, "resolved", f"<@{user_id}> resolved the incident", actor=user_id)
    markdown = postmortem_markdown(rt, incident.key) or ""
    path = rt.postmortem_dir / f"{incident.key}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown)
    try:
        rt.slack.upload(
            incident.channel_id,
            path.name,
            markdown,
            f"Postmortem {incident.key}",
            f":white_check_mark: {incident.key} is resolved. Here is the postmortem, written from "
            "the recorded timeline; action items are a checklist at the end.",
        )
    except SlackFailure as exc:
        rt.slack.post(
            incident.channel_id,
            f"{incident.key} is resolved, but the postmortem upload failed "
            f"({exc.error}). It is saved on the bot host as {path}.",
        )
    cards.refresh(rt, incident.id)
    announce(rt, incident, slack_views.announcement(cards.card_info(rt, incident)))
    return str(path)


def postmortem_markdown(rt: Runtime, key: str) -> str | None:
    incident = get_incident(rt.db, key)
    if incident is None:
        return None
    return render_postmortem(postmortem_input(rt, incident))


def postmortem_input(rt: Runtime, incident: Incident) -> reports.PostmortemInput:
    """The postmortem's facts, all taken from the record: incident row, timeline, last run."""
    names: dict[str, str] = {}

    def name(user: str | None) -> str:
        if not user or user == "bot":
            return ""
        if user not in names:
            names[user] = rt.slack.user_name(user) if rt.slack else user
        return names[user]

    def people(text: str) -> str:
        return _MENTION.sub(lambda m: "@" + (name(m.group(1)) or m.group(1)), text)

    events = timeline.events(rt.db, incident.id)
    first = {}
    for event in events:
        first.setdefault(event.kind, event)
    run = cards.latest_run(rt, incident.id)
    plan = plan_from_json(run.plan) if run else None
    decisions = [e for e in events if e.kind == "decision"]
    confirmed = [e for e in decisions if (e.data or {}).get("plan_decision") == "confirmed"]
    decision = (confirmed or decisions or [None])[0]
    started = first.get("rollback_started") or first.get("patched")
    finished = first.get("verified") or first.get("rolled_out")
    assessment = cards.assessment_from_json(
        incident.assessment if (incident.assessment or {}).get("severity") else None
    )
    return reports.PostmortemInput(
        incident_key=incident.key,
        service=incident.service,
        namespace=incident.namespace,
        severity=Severity(incident.severity) if incident.severity else None,
        status=incident.status,
        declared_by=name(incident.declared_by),
        lead=name(incident.lead_user_id),
        detected_at=first["assessed"].at if "assessed" in first else None,
        declared_at=incident.created_at,
        decision=reports.Decision(
            name(decision.actor), (decision.data or {}).get("what") or people(decision.text), decision.at
        )
        if decision
        else None,
        rollback_started_at=started.at if started else None,
        rollback_finished_at=finished.at if finished else None,
        from_version=plan.current.version if plan else "",
        to_version=plan.desired.version if plan and plan.desired else "",
        strategy=run.strategy if run else "",
        root_cause=incident.root_cause or "",
        impact=incident.impact or "",
        lessons=incident.lessons or "",
        action_items=tuple(reports.ActionItem(a.text, name(a.owner), a.due, a.done) for a in incident.action_items),
        events=tuple(reports.Event(e.at, e.kind, name(e.actor), people(e.text)) for e in events),
        signals=assessment.signals if assessment else (),
    )


_MENTION = re.compile(r"<@([A-Z0-9_]+)>")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
