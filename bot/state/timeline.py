"""The incident's append-only event log: what happened, when, and who did it.

The postmortem is rendered from these events, so there is deliberately no way to edit
or delete one (the database refuses too); a correction is a new ``note`` event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.state.db import Database
from bot.state.models import CLOSED_INCIDENT_STATUSES, Incident, TimelineEvent, utcnow


def record(
    db: Database,
    incident_id: int,
    kind: str,
    text: str,
    actor: str = "bot",
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> TimelineEvent:
    """Append one event (UTC timestamp, now by default); retried on transient database errors."""
    if at is not None and at.tzinfo is None:
        raise ValueError("timeline timestamps must be timezone-aware (UTC)")
    when = (at or utcnow()).astimezone(dt.UTC)

    def insert(session: Session) -> TimelineEvent:
        event = TimelineEvent(incident_id=incident_id, at=when, kind=kind, actor=actor, text=text, data=data)
        session.add(event)
        session.flush()
        return event

    return db.transaction(insert)


def events(db: Database, incident_id: int) -> list[TimelineEvent]:
    """All events of an incident, oldest first (ties broken by insertion order)."""
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    return db.transaction(lambda s: list(s.scalars(query)))


def newest_of_kind_open(db: Database, kind: str) -> list[tuple[Incident, TimelineEvent]]:
    """The newest ``kind`` event of each open incident that has one (the auto-rollback countdowns)."""
    query = (
        select(Incident, TimelineEvent)
        .join(TimelineEvent, TimelineEvent.incident_id == Incident.id)
        .where(TimelineEvent.kind == kind, Incident.status.not_in(CLOSED_INCIDENT_STATUSES))
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    newest: dict[int, tuple[Incident, TimelineEvent]] = {}
    for incident, event in db.transaction(lambda s: [tuple(row) for row in s.execute(query)]):
        newest[incident.id] = (incident, event)
    return list(newest.values())


def of_service(db: Database, service: str, kind: str, since: dt.datetime) -> list[TimelineEvent]:
    """Every ``kind`` event of the service's incidents (open or closed) since ``since``, oldest first."""
    query = (
        select(TimelineEvent)
        .join(Incident, TimelineEvent.incident_id == Incident.id)
        .where(Incident.service == service, TimelineEvent.kind == kind, TimelineEvent.at >= since)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    return db.transaction(lambda s: list(s.scalars(query)))
