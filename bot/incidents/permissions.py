"""Every state-changing action, and every read of what runs, asks here first; a refusal is answered
privately and audited.

The rule itself (which action is open to whom) lives in the services catalog
(``bot.config.Action`` / ``ServiceConfig.may``), and README.md shows it as a table.

A system actor (``alertmanager``, ``auto-rollback``: no person behind it) may declare an incident and
propose a rollback (the dry-run plan, which changes nothing) without the catalog naming it. Anything
else it may do only where the catalog lists it by id (``system:<name>``) for that action; ``"*"``
(anyone) means any person, never a system. It never approves: approval is a second person's.
"""

from __future__ import annotations

import logging

from bot.config import Action, Kind, ServiceConfig
from bot.incidents.actors import Actor
from bot.incidents.events import capture_names, record
from bot.runtime import Runtime
from bot.state import people
from bot.state.incidents import open_incident_for_service
from bot.state.models import Incident

log = logging.getLogger(__name__)

WORDS = {
    Action.DECLARE: "declare an incident",
    Action.ROLL_BACK: "roll back",
    Action.CHOOSE_REVISION: "choose a revision",
    Action.CONFIRM: "confirm a rollback",
    Action.APPROVE: "approve a rollback",
    Action.CANCEL: "cancel a rollback plan",
    Action.SCALE_TO_ZERO: "scale to zero",
    Action.STEER: "hold or speed up a canary step-down",
    Action.DELETE_RELEASE: "delete the bad release",
    Action.RESUME_SYNC: "turn GitOps sync back on",
    Action.FORWARD_FIX: "choose a forward fix",
    Action.DISMISS: "dismiss the incident",
    Action.STATUS_UPDATE: "post a status update",
    Action.RESOLVE: "resolve the incident",
    Action.PAGE_ESCALATION: "page escalation",
    Action.NOTE: "add to the timeline",
    Action.ASSIGN_ROLE: "assign the incident's roles",
    Action.READ_HISTORY: "see the rollout history",
    Action.READ_CONFIG: "see the config versions",
}
READ_COMMANDS = {Action.READ_HISTORY: "/rollback history", Action.READ_CONFIG: "/rollback config"}


SYSTEM_MAY = frozenset({Action.DECLARE, Action.ROLL_BACK, Action.CHOOSE_REVISION})  # unless the catalog says more


def may(service: ServiceConfig, actor: Actor, action: Action, declared_by: str | None) -> bool:
    """The rule for a person (the catalog's) and for a system actor (the module's docstring)."""
    if actor.kind == "slack":
        return service.may(action, actor.id, declared_by)
    if action is Action.APPROVE:
        return False
    return action in SYSTEM_MAY or actor.id in service.who_may(action, None)


def authorize(rt: Runtime, incident: Incident, actor: Actor, action: Action) -> ServiceConfig | None:
    """The incident's service when ``actor`` may do ``action``; otherwise a private answer and an audit event."""
    words = WORDS[action]
    service = rt.catalog.get(incident.service)
    if service is None:
        actor.error(
            "This service left the catalog",
            f"{incident.service} is no longer configured, so nobody may {words} on it from here.",
            "Nothing was changed. Ask an admin to restore its catalog entry.",
        )
        return None
    if may(service, actor, action, incident.declared_by):
        return service
    _refuse(rt, service, actor, action, incident)
    return None


def authorize_read(rt: Runtime, service: ServiceConfig, actor: Actor, action: Action) -> bool:
    """Whether ``actor`` may see what ``action`` shows of ``service`` (images, change-causes, ConfigMap values).

    A refusal is answered privately and audited: on the service's open incident, else as a WARNING log line
    (there is no timeline to put it on)."""
    if may(service, actor, action, None):
        return True
    _refuse(rt, service, actor, action, open_incident_for_service(rt.db, service.name))
    return False


def _refuse(rt: Runtime, service: ServiceConfig, actor: Actor, action: Action, incident: Incident | None) -> None:
    """Record the refusal (on the incident; with none, a read is logged), then tell the person who may."""
    what = f"{WORDS[action]} of {service.name}" if action.kind is Kind.READ else WORDS[action]
    who = service.who_may(action, incident.declared_by if incident else None)
    capture_names(rt, *who)
    known = people.known(rt.db, who)
    names = ", ".join(known.get(u, u) for u in who) or "nobody"
    if action == Action.ROLL_BACK:
        title = f"You can't roll back {service.name}"
    elif incident is None or action.kind is Kind.READ:
        title = f"You can't {what}"
    else:
        title = f"You can't {what} on {incident.key}"
    why = "not allowed by the services catalog" if actor.kind == "slack" else "a system actor the catalog does not name"
    if incident is not None:
        record(
            rt,
            incident.id,
            "audit",
            f"{actor.mention} was refused: {what} ({why})",
            actor=actor,
            data={"action": str(action), "allowed": list(who)},
        )
    elif action in READ_COMMANDS:
        log.warning(
            "audit: %s was refused %s %s (not a responder in the services catalog)",
            actor.id,
            READ_COMMANDS[action],
            service.name,
        )
    rule = (
        f"The services catalog lets only {names} {WORDS[action]} for {service.name}."
        if actor.kind == "slack"
        else f"A system actor may declare and propose a rollback; to {WORDS[action]} for {service.name} the "
        f"services catalog must name {actor.id} (approving is always a person's)."
    )
    actor.error(
        title,
        rule,
        "Nothing was changed. Ask one of them, or the service owners, to do it.",
    )
