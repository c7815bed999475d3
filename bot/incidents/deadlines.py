"""Decision deadlines (the ``decision deadlines`` job): an incident still undecided when its severity's deadline
passes pings its lead and the service's owners; at twice the deadline the escalation contact is invited and pinged.

Undecided: open, and no rollback ever started (a forward fix and a dismissal leave ``open``; a failed rollback has
its own *Page escalation*). The deadline counts from the declaration with the severity the incident has now.
Each stage is claimed by a conditional UPDATE of ``deadline_stage``, so across replicas each ping goes out once.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select, update

from bot.config import ServiceConfig, escalation
from bot.incidents.common import now
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.signals.severity import Severity
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.state.models import Incident, RollbackRun
from bot.state.states import IncidentStatus

log = logging.getLogger(__name__)


def decide_by(service: ServiceConfig | None, incident: Incident) -> dt.datetime | None:
    """When the decision is due (None: no deadline at this severity, or no severity yet)."""
    return service.decision_deadlines.due_at(incident.severity, incident.created_at) if service else None


def undecided(rt: Runtime) -> list[Incident]:
    """Open incidents with a channel, not escalated yet, that never started a rollback."""
    ran = exists().where(RollbackRun.incident_id == Incident.id)
    query = select(Incident).where(
        Incident.status == str(IncidentStatus.OPEN),
        Incident.channel_id.is_not(None),
        Incident.severity.is_not(None),
        Incident.deadline_stage < 2,
        ~ran,
    )
    return rt.db.transaction(lambda s: list(s.scalars(query)))


def due(rt: Runtime, at: dt.datetime | None = None) -> int:
    """Send the pings whose time has come; returns how many went out."""
    at = at or now()
    sent = 0
    for incident in undecided(rt):
        service = rt.catalog.get(incident.service)
        deadline = decide_by(service, incident)
        if service is None or deadline is None or at < deadline:
            continue
        stage = 2 if at >= service.decision_deadlines.escalation_at(incident.severity, incident.created_at) else 1
        if stage <= incident.deadline_stage or not _claim(rt, incident.id, stage):
            continue  # already sent, or another worker sent it
        if incident.deadline_stage < 1:
            sent += _ping_responders(rt, incident, service, deadline)
        if stage == 2:
            sent += _escalate(rt, incident, service)
    return sent


def _claim(rt: Runtime, incident_id: int, stage: int) -> bool:
    def claim(session) -> bool:
        result = session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.deadline_stage < stage)
            .values(deadline_stage=stage)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    return rt.db.transaction(claim)


def span(seconds: int) -> str:
    """``10 minute``, ``30 second`` (as in "its 10 minute deadline")."""
    return f"{seconds // 60} minute" if seconds % 60 == 0 else f"{seconds} second"


def _severity(incident: Incident) -> str:
    return Severity(incident.severity).label


def _ping_responders(rt: Runtime, incident: Incident, service: ServiceConfig, deadline: dt.datetime) -> int:
    people = tuple(dict.fromkeys(u for u in (incident.lead_user_id, *service.owners) if u))
    within = service.decision_deadlines.decide_within(incident.severity) or 0
    late = f"its {span(within)} decision deadline passed" if within else "it needs a decision now"
    text = (
        f":alarm_clock: {' '.join(views.user(u) for u in people) or 'Owners'}: {incident.key} is "
        f"{_severity(incident)} and {late} ({deadline:%H:%M:%S} UTC) with no decision. Decide on the pinned card: "
        "roll back, forward fix or dismiss."
    )
    return _post(
        rt,
        incident,
        text,
        "deadline",
        f"Decision deadline passed: pinged {', '.join(people) or 'nobody'}",
        {"pinged": list(people), "deadline": deadline.isoformat()},
    )


def _escalate(rt: Runtime, incident: Incident, service: ServiceConfig) -> int:
    contact = escalation.contact(service.escalation)
    if not contact:
        record(rt, incident.id, "deadline", "Twice the decision deadline with no decision; no escalation contact")
        return 0
    not_invited = rt.slack.invite(incident.channel_id, [contact]) if incident.channel_id else []
    text = (
        f":rotating_light: {views.user(contact)}, you are pulled into {incident.key} ({_severity(incident)}): "
        "it has gone twice its decision deadline without a decision. Please help the lead decide on the pinned card."
    )
    return _post(
        rt,
        incident,
        text,
        "escalated",
        f"Twice the decision deadline: invited and pinged <@{contact}>",
        {"pinged": [contact], "not_invited": not_invited},
    )


def _post(rt: Runtime, incident: Incident, text: str, kind: str, what: str, data: dict) -> int:
    try:
        rt.slack.post(incident.channel_id, text)
    except SlackFailure as exc:
        log.warning("deadline ping for %s failed: %s", incident.key, exc)
        record(rt, incident.id, "note", f"Could not post the deadline ping: {exc.error}")
        return 0
    record(rt, incident.id, kind, what, data=data)
    return 1
