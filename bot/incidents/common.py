"""Small pieces every lifecycle module uses: finding the incident a click is about, the target, quiet calls."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import NamedTuple

from bot import logs
from bot.config import Action, ServiceConfig
from bot.incidents import cards
from bot.incidents.actors import Actor
from bot.incidents.events import record
from bot.incidents.permissions import WORDS, authorize
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.slack.views import ActionValue
from bot.state import runs, timeline
from bot.state.incidents import get_incident
from bot.state.models import Incident, RollbackRun
from bot.strategies import registry
from bot.strategies.base import Target
from bot.strategies.options import to_options

log = logging.getLogger(__name__)


def target(service: ServiceConfig, to_revision: int | None = None) -> Target:
    """What a rollback of ``service`` acts on: where it runs, in its strategy's provider's words (its spec's
    ``locate``)."""
    return Target(
        service=service.name,
        locator=registry.spec(service.strategy).locate(service),
        to_revision=to_revision,
        options=to_options(service.options),
    )


def incident_for(rt: Runtime, key: str, actor: Actor) -> Incident | None:
    """The incident named by ``key``, or the one of the actor's channel; explains when there is none."""
    incident = get_incident(rt.db, key) if key else None
    if incident is None and actor.channel_id:
        incident = cards.incident_in_channel(rt, actor.channel_id)
    if incident is not None:
        logs.bind(incident=incident.key)  # this listener job's own context (Runtime.submit)
    if incident is None:
        actor.error(
            "I can't find that incident",
            f"There is no incident {key or 'in this channel'}.",
            "Use `/rollback status` to list the open incidents.",
        )
    return incident


def quietly(fn: Callable[..., object], *args: object) -> None:
    """A Slack call whose failure must not stop the incident (topic, pin, a courtesy message)."""
    try:
        fn(*args)
    except SlackFailure as exc:
        log.warning("%s", exc)


def open_view(rt: Runtime, actor: Actor, view: dict, what: str) -> None:
    """Open a modal; when Slack refuses (an expired trigger, say), tell the person what to do."""
    try:
        rt.slack.open_view(actor.trigger_id, view)
    except SlackFailure as exc:
        actor.error(
            f"I could not open the {what} form",
            f"Slack refused it ({exc.error}). Slack gives a bot 3 seconds to open a form after a click.",
            "Nothing was changed. Please try once more.",
        )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- stale buttons

RUN_WORDS = {
    "pending": "is waiting for a worker to start it",
    "running": "is running",
    "verified": "is verified",
    "verification_failed": "finished, but its verification FAILED",
    "could_not_verify": "finished, but could not be verified",
    "failed": "FAILED",
    "cancelled": "was cancelled",
    "expired": "expired before a worker started it",
}
NEWEST = "Use the buttons on the newest message (the pinned incident card)."


class Clicked(NamedTuple):
    """What a click acts on, read now: the incident, its service and its latest run (None: no run yet)."""

    incident: Incident
    service: ServiceConfig
    latest: RollbackRun | None


class Stale(NamedTuple):
    """Why a button no longer fits: what is true now, and what the person can do instead."""

    now: str
    hint: str = NEWEST


Still = Callable[[Runtime, ActionValue, Clicked], Stale | None]


def still_current(
    rt: Runtime,
    value: ActionValue,
    actor: Actor,
    action: Action | Callable[[Incident], Action],
    still: Still | None = None,
    closed_hint: Callable[[Runtime, Clicked], str] | None = None,
) -> Clicked | None:
    """Who asks (``authorize``; ``action`` may depend on the incident), then whether the world the button
    remembers is still the one it acts on: the incident is open and ``still`` finds nothing changed. A button is
    posted once and clicked later (a phone that had not refreshed, an earlier run's message): when it no longer
    fits, the person is told what is true now, privately, the refusal is audited, and nothing changes."""
    incident = incident_for(rt, value.incident_key, actor)
    if incident is None:
        return None
    action = action(incident) if callable(action) else action
    service = authorize(rt, incident, actor, action)
    if not service:
        return None
    clicked = Clicked(incident, service, cards.latest_run(rt, incident.id))
    stale = _closed(rt, clicked, closed_hint) or (still(rt, value, clicked) if still else None)
    if stale is None:
        return clicked
    actor.reply(f"{stale.now}; nothing was changed. {stale.hint}")
    record(
        rt,
        incident.id,
        "audit",
        f"{actor.mention} was refused: {WORDS[action]} (a button of an earlier state: {stale.now})",
        actor=actor,
        data={"action": str(action), "stale": True, "button_run": value.plan_id},
    )
    return None


def _closed(rt: Runtime, clicked: Clicked, hint: Callable[[Runtime, Clicked], str] | None) -> Stale | None:
    """A closed incident takes no more actions: when and by whom it closed."""
    incident = clicked.incident
    if incident.is_open:
        return None
    by = next((e.actor for e in reversed(timeline.events(rt.db, incident.id)) if e.kind == incident.status), None)
    at = f" at {views.date(incident.resolved_at)}" if incident.resolved_at else ""
    who = f" by {views.user(by)}" if by else ""
    again = f"Declare a new incident with `/rollback {incident.service}` and a reason if it is back."
    extra = hint(rt, clicked) if hint else ""
    return Stale(f"{incident.key} was {incident.status}{at}{who}", f"{again} {extra}".strip())


def same_run(rt: Runtime, value: ActionValue, clicked: Clicked) -> Stale | None:
    """The run the button was posted for (0: before any run) is still the incident's latest run."""
    latest, posted_for = clicked.latest, value.plan_id or 0
    if posted_for == (latest.id if latest else 0):
        return None
    if latest is None:
        return Stale(f"This button belongs to a rollback (run {posted_for}) that {clicked.incident.key} does not have")
    now = f"the latest rollback (run {latest.id}) {RUN_WORDS.get(latest.status, latest.status)}"
    if not posted_for:
        return Stale(f"This button was posted before the latest rollback; {now}")
    posted = runs.get_run(rt.db, posted_for)
    if posted is not None and posted.incident_id == latest.incident_id:
        return Stale(f"This button belongs to an earlier rollback (run {posted_for}); {now}")
    return Stale(f"This button does not belong to a rollback of {clicked.incident.key} (run {posted_for}); {now}")
