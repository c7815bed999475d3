"""Every state-changing action, and every read of what runs, asks here first; a refusal is answered
privately and audited.

The rule itself (which action is open to whom) lives in the services catalog
(``bot.config.Action`` / ``ServiceConfig.may``), and README.md shows it as a table.
"""

from __future__ import annotations

import logging

from bot.config import Action, Kind, ServiceConfig
from bot.incidents.caller import Caller
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
    Action.NOTE: "add a note",
    Action.READ_HISTORY: "see the rollout history",
    Action.READ_CONFIG: "see the config versions",
}
READ_COMMANDS = {Action.READ_HISTORY: "/rollback history", Action.READ_CONFIG: "/rollback config"}


def authorize(rt: Runtime, incident: Incident, caller: Caller, action: Action) -> ServiceConfig | None:
    """The incident's service when ``caller`` may do ``action``; otherwise a private answer and an audit event."""
    words = WORDS[action]
    service = rt.catalog.get(incident.service)
    if service is None:
        caller.error(
            "This service left the catalog",
            f"{incident.service} is no longer configured, so nobody may {words} on it from here.",
            "Nothing was changed. Ask an admin to restore its catalog entry.",
        )
        return None
    if service.may(action, caller.user_id, incident.declared_by):
        return service
    _refuse(rt, service, caller, action, incident)
    return None


def authorize_read(rt: Runtime, service: ServiceConfig, caller: Caller, action: Action) -> bool:
    """Whether ``caller`` may see what ``action`` shows of ``service`` (images, change-causes, ConfigMap values).

    A refusal is answered privately and audited: on the service's open incident, else as a WARNING log line
    (there is no timeline to put it on)."""
    if service.may(action, caller.user_id, None):
        return True
    _refuse(rt, service, caller, action, open_incident_for_service(rt.db, service.name))
    return False


def _refuse(rt: Runtime, service: ServiceConfig, caller: Caller, action: Action, incident: Incident | None) -> None:
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
    if incident is not None:
        record(
            rt,
            incident.id,
            "audit",
            f"<@{caller.user_id}> was refused: {what} (not allowed by the services catalog)",
            actor=caller.user_id,
            data={"action": str(action), "allowed": list(who)},
        )
    elif action in READ_COMMANDS:
        log.warning(
            "audit: %s was refused %s %s (not a responder in the services catalog)",
            caller.user_id,
            READ_COMMANDS[action],
            service.name,
        )
    caller.error(
        title,
        f"The services catalog lets only {names} {WORDS[action]} for {service.name}.",
        "Nothing was changed. Ask one of them, or the service owners, to do it.",
    )
