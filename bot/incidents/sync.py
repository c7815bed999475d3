"""GitOps sync a run suspended, as the incident sees it: read from the timeline, named in the run's last
message with *Resume sync*, and turned back on by that button, as it was before the bot first touched it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Action
from bot.incidents.actors import Actor
from bot.incidents.common import RUN_WORDS, Clicked, Stale, quietly, still_current
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.views import ActionValue
from bot.state import timeline
from bot.state.models import Incident, TimelineEvent
from bot.strategies.base import RollbackError
from bot.strategies.capabilities import SyncGuard, SyncOwner, capability

SUSPENDED, RESUMED = "gitops_suspended", "gitops_resumed"  # timeline kinds
SUSPENDING = "gitops_suspending"  # what sync was, recorded before the bot turns it off


@dataclass(frozen=True)
class RecordedOwner:
    """A ``SyncOwner`` as the timeline recorded it; the strategy's ``SyncGuard`` acts on it by its fields."""

    kind: str
    name: str
    namespace: str
    title: str


def owner_data(owner: SyncOwner, run_id: int | None) -> dict:
    """How the timeline names a suspension: the run and the controller object."""
    return {
        "run_id": run_id,
        "controller": owner.kind,
        "name": owner.name,
        "namespace": owner.namespace,
        "title": owner.title,
    }


def recorded_owner(data: dict) -> RecordedOwner:
    """The controller object of a recorded suspension (one recorded before titles were: in its own words)."""
    kind, name, namespace = data["controller"], data["name"], data["namespace"]
    return RecordedOwner(kind, name, namespace, data.get("title") or f"{kind} {namespace}/{name}")


def suspended(rt: Runtime, incident_id: int, run_id: int | None = None) -> tuple[TimelineEvent, SyncOwner] | None:
    """The sync a run suspended and nobody has resumed yet (of ``run_id``, or of any run), from the timeline."""
    events = timeline.events(rt.db, incident_id)
    resumed = {(e.data or {}).get("run_id") for e in events if e.kind == RESUMED}
    for e in reversed(events):
        data = e.data or {}
        if e.kind == SUSPENDED and data.get("run_id") not in resumed and run_id in (None, data.get("run_id")):
            return e, recorded_owner(data)
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


def resume_sync(rt: Runtime, value: ActionValue, caller: Actor) -> None:
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
        guard = capability(rt.strategy_for(service), SyncGuard)
        if guard is None:
            raise RollbackError(f"the {service.strategy} strategy of {service.name} cannot turn GitOps sync on")
        guard.resume(owner, (event.data or {}).get("saved") or {})
    except RollbackError as exc:
        caller.error(f"Sync of the {owner.title} is still off", str(exc), "Nothing else was changed.")
        return
    record(
        rt,
        incident.id,
        RESUMED,
        f"{caller.mention} turned sync of the {owner.title} back on",
        actor=caller,
        data=owner_data(owner, value.plan_id),
    )
    quietly(
        rt.slack.post,
        incident.channel_id,
        f":arrows_counterclockwise: {caller.mention} turned sync of the {owner.title} back on: from now on it "
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
