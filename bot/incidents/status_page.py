"""The status page: a service's ``status_page: {component}`` follows its incident.

Declared High -> *degraded performance*, Critical or a failed rollback -> *major outage* (an automatic change
only ever goes up); resolved or dismissed -> *operational*. ``events.record`` hands over the events that move
it (``MOVES``); the driver's call runs off the caller's thread (``rt.background``) and every change, or why
it failed, is a ``status_page`` timeline event, which the card shows. A person who may post status updates
can set it from the card (``comms.set_status_page``).
"""

from __future__ import annotations

import logging

from bot.config.outbound import STATUSES
from bot.incidents import cards
from bot.incidents.actors import Actor
from bot.runtime import Runtime
from bot.state import timeline
from bot.state.models import Incident

log = logging.getLogger(__name__)
EVENT = "status_page"
ORDER = tuple(STATUSES)  # mildest first: an option's value carries its index
BY_SEVERITY = {"high": "degraded_performance", "critical": "major_outage"}
MOVES = ("assessed", "rollback_failed", "verification_failed", "resolved", "dismissed")


def wanted(kind: str, severity: str | None) -> str | None:
    """The status an event asks for (pure)."""
    if kind == "assessed":
        return BY_SEVERITY.get(severity or "")
    if kind in ("rollback_failed", "verification_failed"):
        return "major_outage"
    if kind in ("resolved", "dismissed"):
        return "operational"
    return None


def on_event(rt: Runtime, incident: Incident, kind: str) -> None:
    service = rt.catalog.services.get(incident.service)
    status = wanted(kind, incident.severity)
    if rt.status_page is None or service is None or service.status_page is None or status is None:
        return
    now = shown(rt, incident.id)
    if status != "operational" and now and ORDER.index(now.get("status", "operational")) >= ORDER.index(status):
        return  # never lowered automatically while the incident is open
    rt.background.submit(
        set_now, rt, incident.id, service.status_page.component, status, f"the incident's {kind}", None
    )


def set_now(rt: Runtime, incident_id: int, component: str, status: str, why: str, actor: Actor | None) -> bool:
    def record(text: str, data: dict) -> None:  # timeline's own: events.record hands its events to this module
        who = {"actor": actor.data} if actor else {}
        timeline.record(rt.db, incident_id, EVENT, text, actor=actor.id if actor else "bot", data={**data, **who})

    try:
        said = rt.status_page.set(component, status)
    except Exception as exc:  # the status page's trouble is never the incident's
        log.warning("status page component %s: %s", component, exc)
        text = f"Could not set the status page to {STATUSES[status]}: {exc}"
        record(text, {"component": component, "error": str(exc)})
        cards.refresh(rt, incident_id)
        return False
    by = actor.mention if actor else "the bot"
    text = f"Status page set to {STATUSES.get(said, said)} by {by} ({why})"
    record(text, {"component": component, "status": said})
    cards.refresh(rt, incident_id)
    return True


def shown(rt: Runtime, incident_id: int) -> dict | None:
    """The newest status page event's data (``status`` and who set it, or ``error``)."""
    events = [e for e in timeline.events(rt.db, incident_id) if e.kind == EVENT]
    return {**(events[-1].data or {}), "actor": events[-1].actor} if events else None


def pending(rt: Runtime, incident: Incident) -> bool:
    """Whether the service has a status page whose card line may lag (right after the card is posted)."""
    service = rt.catalog.services.get(incident.service)
    return rt.status_page is not None and service is not None and service.status_page is not None
