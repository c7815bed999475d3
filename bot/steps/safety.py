"""The steps that keep a rollback from doing harm: a backup before crossing migrations, and GitOps sync
suspended so its controller does not put the bad release back; and what the plan says about both."""

from __future__ import annotations

import dataclasses

from bot.config import Action, ServiceConfig, duration_seconds
from bot.incidents.caller import Caller
from bot.incidents.common import RUN_WORDS, Clicked, Stale, quietly, still_current
from bot.incidents.events import record
from bot.providers.kubernetes import gitops
from bot.providers.kubernetes.backup import job_manifest, run_backup
from bot.providers.kubernetes.gitops import GitOpsOwner
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.views import ActionValue
from bot.state import timeline
from bot.state.models import Incident, TimelineEvent
from bot.steps.context import RunContext
from bot.strategies.base import Plan, RollbackError

SUSPENDED, RESUMED = "gitops_suspended", "gitops_resumed"  # timeline kinds
SUSPENDING = "gitops_suspending"  # what sync was, recorded before the bot turns it off


def with_safety(plan: Plan, service: ServiceConfig) -> Plan:
    """The plan with what the run does before the change (backup) and what it will not do (the schema)."""
    if plan.skipped or not service.db_migrations:
        return plan
    changes, warnings = list(plan.changes), list(plan.warnings)
    job = service.backup_job
    if job:
        changes.insert(
            0,
            f"first, run the backup Job ({job.image}: {' '.join(job.command)}) in "
            f"{job.namespace or service.namespace} and wait up to {job.deadline}; if it fails or runs late, "
            "the rollback is refused and nothing else changes",
        )
    runbook = service.migration_runbook or "your migration-rollback runbook"
    warnings.append(
        "database migrations: the previous release may meet a schema the current one migrated. Rolling the "
        f"schema back is a separate decision, never automatic: see {runbook}"
        + ("" if job else "; no backup_job is configured, so no backup is taken first")
    )
    return dataclasses.replace(plan, changes=tuple(changes), warnings=tuple(warnings))


def backup(ctx: RunContext, name: str) -> None:
    """The service's backup Job, when it declares one; a backup that did not complete refuses the rollback."""
    if name in ctx.done:
        return
    service, job = ctx.service, ctx.service.backup_job
    if not job:
        why = "no migrations declared" if not service.db_migrations else "no backup_job configured"
        ctx.step(name, "skipped", f"no backup taken ({why})")
        return
    if ctx.applied:
        ctx.step(name, "skipped", "the rollback was already applied when this run resumed")
        return
    manifest = job_manifest(service.name, ctx.incident.key, ctx.run.id, job, ctx.confirmed.target.namespace)
    ctx.step(name, "running", f"backup job {manifest['metadata']['name']}: starting")
    deadline = duration_seconds(job.deadline)
    result = run_backup(ctx.strategy.api, manifest, ctx.strategy.clock, deadline, ctx.progress(name))
    ctx.record(
        "backup",
        result.detail,
        job=result.name,
        namespace=result.namespace,
        logs=result.logs_hint,
        succeeded=result.succeeded,
    )
    if not result.succeeded:
        raise RollbackError(result.detail)
    ctx.step(name, "done", f"{result.detail} (logs: `{result.logs_hint}`)")


def suspend_sync(ctx: RunContext, name: str) -> None:
    """Argo CD's automated sync or Flux's reconciliation turned off before the change, as a recorded step.

    What sync was is recorded before the patch, so a run resumed after a crash between the two neither
    suspends twice nor takes the state it left for the state to restore: *Resume sync* puts back what was
    there before the bot first touched it (in this incident)."""
    if name in ctx.done:
        return
    strategy = ctx.strategy
    owner = strategy.sync_owner(ctx.confirmed.target)
    if owner is None:
        ctx.step(name, "skipped", "not managed by Argo CD or Flux")
        return
    ctx.step(name, "running", f"suspending sync of the {owner.title}")
    where = {"run_id": ctx.run.id, "controller": owner.kind, "name": owner.name, "namespace": owner.namespace}
    earlier, recorded = _recorded(ctx, owner)
    now = gitops.sync_state(strategy.api, owner)
    saved = now if earlier is None else earlier
    if earlier is None:
        what = f"Suspending sync of the {owner.title}; it was {_words(owner, saved)}"
        ctx.record(SUSPENDING, what, **where, saved=saved)
    gitops.suspend(strategy.api, owner, now)  # patches only while sync is still on
    detail = f"sync of the {owner.title} suspended, so it cannot put the bad release back"
    if not recorded:
        ctx.record(SUSPENDED, detail, **where, saved=saved)
    ctx.step(name, "done", detail)


def _recorded(ctx: RunContext, owner: GitOpsOwner) -> tuple[dict | None, bool]:
    """What the bot recorded of ``owner``'s sync in this incident: the state from before it first suspended it
    (None when it has not, or a person turned it back on since), and whether this run recorded the suspension."""
    key, saved, this_run = (owner.kind, owner.name, owner.namespace), None, False
    for e in timeline.events(ctx.worker.rt.db, ctx.incident.id):
        data = e.data or {}
        if (data.get("controller"), data.get("name"), data.get("namespace")) != key:
            continue
        if e.kind == RESUMED:
            saved, this_run = None, False
        elif e.kind in (SUSPENDING, SUSPENDED):
            saved = data.get("saved") if saved is None else saved
            this_run = this_run or (e.kind == SUSPENDED and data.get("run_id") == ctx.run.id)
    return saved, this_run


def _words(owner: GitOpsOwner, saved: dict) -> str:
    """``automated sync on (prune, selfHeal)``, ``already suspended``, ...: the state *Resume sync* puts back."""
    if owner.kind != "argocd":
        return "already suspended" if saved.get("suspend") is True else "reconciling (not suspended)"
    automated = saved.get("automated")
    if automated is None:
        return "already without automated sync"
    on = ", ".join(k for k, v in automated.items() if v)
    return "automated sync on" + (f" ({on})" if on else "")


def suspended(rt: Runtime, incident_id: int, run_id: int | None = None) -> tuple[TimelineEvent, GitOpsOwner] | None:
    """The sync a run suspended and nobody has resumed yet (of ``run_id``, or of any run), from the timeline."""
    events = timeline.events(rt.db, incident_id)
    resumed = {(e.data or {}).get("run_id") for e in events if e.kind == RESUMED}
    for e in reversed(events):
        data = e.data or {}
        if e.kind == SUSPENDED and data.get("run_id") not in resumed and run_id in (None, data.get("run_id")):
            return e, gitops.owner(data["controller"], data["name"], data["namespace"])
    return None


def sync_note(rt: Runtime, incident: Incident, run_id: int) -> tuple[str, list[dict]]:
    """What a run's last message adds when it left GitOps sync off: why, and the button that turns it back on."""
    found = suspended(rt, incident.id, run_id)
    if found is None:
        return "", []
    _, owner = found
    text = (
        f"\n:warning: *Sync of the {owner.title} is suspended*, so it cannot undo the rollback. Commit the "
        "rolled-back version to Git, then turn sync back on with *Resume sync* (before Git has it, sync would "
        "put the bad release back)."
    )
    return text, [views.resume_sync_actions(incident.key, run_id, owner.title)]


def resume_sync(rt: Runtime, value: ActionValue, caller: Caller) -> None:
    """Turn back on the sync a run suspended, as it was before; recorded, once."""
    clicked = still_current(rt, value, caller, Action.RESUME_SYNC, _sync_still_ours, _still_off)
    if clicked is None:
        return
    incident, service = clicked.incident, clicked.service
    found = suspended(rt, incident.id, value.plan_id) if value.plan_id else None
    if found is None:
        caller.reply("Sync is not suspended by this rollback any more; nothing was changed.")
        return
    event, owner = found
    try:
        gitops.resume(rt.strategy_for(service).api, owner, (event.data or {}).get("saved") or {})
    except RollbackError as exc:
        caller.error(f"Sync of the {owner.title} is still off", str(exc), "Nothing else was changed.")
        return
    record(
        rt,
        incident.id,
        RESUMED,
        f"<@{caller.user_id}> turned sync of the {owner.title} back on",
        actor=caller.user_id,
        data={"run_id": value.plan_id, "controller": owner.kind, "name": owner.name, "namespace": owner.namespace},
    )
    quietly(
        rt.slack.post,
        incident.channel_id,
        f":arrows_counterclockwise: <@{caller.user_id}> turned sync of the {owner.title} back on: from now on it "
        "applies what Git says.",
    )


def _sync_still_ours(rt: Runtime, value: ActionValue, clicked: Clicked) -> Stale | None:
    """No rollback runs now, and the suspension this button names is the one in force (a later run may have
    taken it over: its message then has the button that acts)."""
    latest = clicked.latest
    if latest is not None and latest.is_active:
        return Stale(
            f"A rollback (run {latest.id}) {RUN_WORDS[latest.status]}: sync stays off until it ends",
            "Its message will say whether sync is still off, with the button to turn it back on.",
        )
    newest = suspended(rt, clicked.incident.id)
    run = (newest[0].data or {}).get("run_id") if newest else None
    if newest is None or run == value.plan_id:
        return None  # not suspended any more: the click path says so
    return Stale(
        f"This button belongs to an earlier rollback (run {value.plan_id}); sync of the {newest[1].title} was "
        f"suspended again by a later one (run {run})",
        "Use *Resume sync* on the newest message.",
    )


def _still_off(rt: Runtime, clicked: Clicked) -> str:
    """A closed incident with sync still off: where to turn it back on by hand."""
    found = suspended(rt, clicked.incident.id)
    if found is None:
        return ""
    owner = found[1]
    return (
        f"Sync of the {owner.title} is still suspended: turn it back on in "
        f"{'Argo CD' if owner.kind == 'argocd' else 'Flux'} once Git has the rollback (the postmortem lists it "
        "as an action item)."
    )
