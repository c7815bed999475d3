"""Who may do what: every state-changing action asks here first, and a refusal is audited.

Two kinds of action (the README's table): *roll back* (plan, choose a revision, confirm or
approve, cancel a plan, scale to zero) for the service's ``rollback_allowed``; *respond*
(forward fix, dismiss, status update, resolve, page escalation) for its responders (by
default the owners, the people who may roll back, and whoever declared the incident).
Declaring an incident is open to everyone in the workspace.
"""

from __future__ import annotations

import enum

from bot.config import ServiceConfig
from bot.incidents.caller import Caller
from bot.incidents.events import capture_names, record
from bot.runtime import Runtime
from bot.state import people
from bot.state.models import Incident


class Action(enum.StrEnum):
    ROLL_BACK = "roll back"
    CONFIRM = "confirm a rollback"
    CANCEL_PLAN = "cancel a rollback plan"
    SCALE_TO_ZERO = "scale to zero"
    FORWARD_FIX = "choose a forward fix"
    DISMISS = "dismiss the incident"
    STATUS_UPDATE = "post a status update"
    RESOLVE = "resolve the incident"
    PAGE = "page escalation"


ROLLBACK_ACTIONS = frozenset({Action.ROLL_BACK, Action.CONFIRM, Action.CANCEL_PLAN, Action.SCALE_TO_ZERO})


def may(service: ServiceConfig, action: Action, user_id: str, declared_by: str | None) -> bool:
    """The rule itself (pure)."""
    if action in ROLLBACK_ACTIONS:
        return service.may_roll_back(user_id)
    return service.may_respond(user_id, declared_by)


def authorize(rt: Runtime, incident: Incident, caller: Caller, action: Action) -> ServiceConfig | None:
    """The incident's service when ``caller`` may do ``action``; otherwise a private answer and an audit event."""
    service = rt.catalog.get(incident.service)
    if service is None:
        caller.error(
            "This service left the catalog",
            f"{incident.service} is no longer configured, so nobody may {action} on it from here.",
            "Nothing was changed. Ask an admin to restore its catalog entry.",
        )
        return None
    if may(service, action, caller.user_id, incident.declared_by):
        return service
    who = service.rollback_allowed if action in ROLLBACK_ACTIONS else service.responders_for(incident.declared_by)
    capture_names(rt, *who)
    known = people.known(rt.db, who)
    names = ", ".join("anyone" if u == "*" else known.get(u, u) for u in who) or "nobody"
    caller.error(
        f"You can't {action} {service.name}" if action == Action.ROLL_BACK else f"You can't {action} on {incident.key}",
        f"The services catalog lets only {names} {action} for {service.name}.",
        "Nothing was changed. Ask one of them, or the service owners, to do it.",
    )
    record(
        rt,
        incident.id,
        "audit",
        f"<@{caller.user_id}> was refused: {action} (not allowed by the services catalog)",
        actor=caller.user_id,
        data={"action": str(action), "allowed": list(who)},
    )
    return None
