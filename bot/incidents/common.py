"""Small pieces every lifecycle module uses: finding the incident a click is about, the target, quiet calls."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from bot.config import ServiceConfig
from bot.incidents import cards
from bot.incidents.caller import Caller
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from bot.state.incidents import get_incident
from bot.state.models import Incident
from bot.strategies.base import Target
from bot.strategies.options import to_options

log = logging.getLogger(__name__)


def target(service: ServiceConfig, to_revision: int | None = None) -> Target:
    return Target(
        service=service.name,
        namespace=service.namespace,
        workload=service.deployment,
        container=service.container or "",
        to_revision=to_revision,
        options=to_options(service.blue_green or service.canary or service.config),
    )


def incident_for(rt: Runtime, key: str, caller: Caller) -> Incident | None:
    """The incident named by ``key``, or the one of the caller's channel; explains when there is none."""
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


def quietly(fn: Callable[..., object], *args: object) -> None:
    """A Slack call whose failure must not stop the incident (topic, pin, a courtesy message)."""
    try:
        fn(*args)
    except SlackFailure as exc:
        log.warning("%s", exc)


def open_view(rt: Runtime, caller: Caller, view: dict, what: str) -> None:
    """Open a modal; when Slack refuses (an expired trigger, say), tell the person what to do."""
    try:
        rt.slack.open_view(caller.trigger_id, view)
    except SlackFailure as exc:
        caller.error(
            f"I could not open the {what} form",
            f"Slack refused it ({exc.error}). Slack gives a bot 3 seconds to open a form after a click.",
            "Nothing was changed. Please try once more.",
        )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
