"""Every state-changing action asks here first; a refusal is answered privately and audited.

The rule itself (which action is open to whom) lives in the services catalog
(``bot.config.Action`` / ``ServiceConfig.may``), and README.md shows it as a table.
"""

from __future__ import annotations

from bot.config import Action, ServiceConfig
from bot.incidents.caller import Caller
from bot.incidents.events import capture_names, record
from bot.runtime import Runtime
from bot.state import people
from bot.state.models import Incident

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
}


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
    who = service.who_may(action, incident.declared_by)
    capture_names(rt, *who)
    known = people.known(rt.db, who)
    names = ", ".join(known.get(u, u) for u in who) or "nobody"
    caller.error(
        f"You can't roll back {service.name}" if action == Action.ROLL_BACK else f"You can't {words} on {incident.key}",
        f"The services catalog lets only {names} {words} for {service.name}.",
        "Nothing was changed. Ask one of them, or the service owners, to do it.",
    )
    record(
        rt,
        incident.id,
        "audit",
        f"<@{caller.user_id}> was refused: {words} (not allowed by the services catalog)",
        actor=caller.user_id,
        data={"action": str(action), "allowed": list(who)},
    )
    return None
