"""The steps that keep a rollback from doing harm: a backup before crossing migrations, and GitOps sync
suspended so its controller does not put the bad release back. Each asks the strategy for the capability
(``Backup``, ``SyncGuard``) and is skipped, saying why, when it has none."""

from __future__ import annotations

from bot.incidents.sync import RESUMED, SUSPENDED, SUSPENDING, owner_data
from bot.state import timeline
from bot.steps.context import RunContext
from bot.strategies.base import RollbackError
from bot.strategies.capabilities import Backup, BackupRequest, SyncGuard, SyncOwner, capability, skip_reason


def backup(ctx: RunContext, name: str) -> None:
    """The service's backup, when it declares one; a backup that did not complete refuses the rollback."""
    if name in ctx.done:
        return
    service, job = ctx.service, ctx.service.backup_job
    if not job:
        why = "no migrations declared" if not service.db_migrations else "no backup_job configured"
        ctx.step(name, "skipped", f"no backup taken ({why})")
        return
    taker = capability(ctx.strategy, Backup)
    if taker is None:
        ctx.step(name, "skipped", f"no backup taken ({skip_reason(ctx.strategy, 'backup')})")
        return
    if ctx.applied:
        ctx.step(name, "skipped", "the rollback was already applied when this run resumed")
        return
    request = BackupRequest(service.name, ctx.incident.key, ctx.run.id, job, ctx.confirmed.target)
    ctx.step(name, "running", f"{taker.title(request)}: starting")
    result = taker.take(request, ctx.progress(name))
    ctx.record(
        "backup",
        result.detail,
        job=result.name,
        namespace=result.namespace,
        logs=result.logs_hint,
        succeeded=result.succeeded,
        size=result.size,
        seconds=None if result.seconds is None else round(result.seconds, 1),
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
    guard = capability(ctx.strategy, SyncGuard)
    if guard is None:
        ctx.step(name, "skipped", skip_reason(ctx.strategy, "suspend sync"))
        return
    owner = guard.owner(ctx.confirmed.target)
    if owner is None:
        ctx.step(name, "skipped", "not managed by Argo CD or Flux")
        return
    ctx.step(name, "running", f"suspending sync of the {owner.title}")
    where = owner_data(owner, ctx.run.id)
    earlier, recorded = _recorded(ctx, owner)
    now = guard.state(owner)
    saved = now if earlier is None else earlier
    if earlier is None:
        what = f"Suspending sync of the {owner.title}; it was {guard.describe(owner, saved)}"
        ctx.record(SUSPENDING, what, **where, saved=saved)
    guard.suspend(owner, now)  # patches only while sync is still on
    detail = f"sync of the {owner.title} suspended, so it cannot put the bad release back"
    if not recorded:
        ctx.record(SUSPENDED, detail, **where, saved=saved)
    ctx.step(name, "done", detail)


def _recorded(ctx: RunContext, owner: SyncOwner) -> tuple[dict | None, bool]:
    """What the bot recorded of ``owner``'s sync in this incident: the state from before it first suspended it
    (None when it has not, or a person turned it back on since), and whether this run recorded the suspension."""
    key, saved, this_run = (owner.kind, owner.name, owner.namespace), None, False
    for e in timeline.events(ctx.env.db, ctx.incident.id):
        data = e.data or {}
        if (data.get("controller"), data.get("name"), data.get("namespace")) != key:
            continue
        if e.kind == RESUMED:
            saved, this_run = None, False
        elif e.kind in (SUSPENDING, SUSPENDED):
            saved = data.get("saved") if saved is None else saved
            this_run = this_run or (e.kind == SUSPENDED and data.get("run_id") == ctx.run.id)
    return saved, this_run
