"""Creating and finding incidents; keys are ``INC-YYYY-NNN``, numbered per UTC year.

Two replicas declaring at the same moment both compute the same next number; the unique
constraint lets one win and the other simply tries the next number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from bot.state.db import Database
from bot.state.models import CLOSED_INCIDENT_STATUSES, Incident, utcnow
from bot.state.states import MOVES, IncidentStatus

KEY_ATTEMPTS = 50


class IncidentAlreadyOpen(Exception):
    """The service already has an open incident (the database's partial unique index said so)."""

    def __init__(self, incident: Incident) -> None:
        super().__init__(f"{incident.key} is already open for {incident.service}")
        self.incident = incident


class WrongState(Exception):
    """A move was refused: the incident is not in a state that allows it (someone else moved it first)."""

    def __init__(self, incident: Incident | None, move: str) -> None:
        session = object_session(incident) if incident is not None else None
        if session is not None:
            session.expunge(incident)  # stays readable after the rollback this exception causes
        self.incident = incident
        self.move = move
        self.status = IncidentStatus(incident.status) if incident else None
        super().__init__(f"cannot {move}: the incident is {self.status}")


def format_key(year: int, seq: int) -> str:
    return f"INC-{year}-{seq:03d}"


def create_incident(
    db: Database,
    service: str,
    namespace: str,
    reason: str,
    declared_by: str,
    now: dt.datetime | None = None,
    declared: tuple[str, ...] = (),
    next_reminder_at: dt.datetime | None = None,
    lead: str | None = "",
) -> Incident:
    """A new open incident with the next free key of ``now``'s year; its lead is ``lead`` ("": whoever declared
    it; None: nobody yet, as for an incident a system declared).

    Raises :class:`IncidentAlreadyOpen` when the service has one (two people typing at once get one).
    """
    created = now or utcnow()
    year = created.astimezone(dt.UTC).year

    def insert(session: Session) -> Incident:
        last = session.scalar(select(func.max(Incident.key_seq)).where(Incident.key_year == year)) or 0
        incident = Incident(
            key=format_key(year, last + 1), key_year=year, key_seq=last + 1,
            service=service, namespace=namespace, reason=reason, status="open",
            declared_by=declared_by, lead_user_id=declared_by if lead == "" else lead, created_at=created,
            declared=list(declared), next_reminder_at=next_reminder_at,
            action_items=[], status_updates=[],  # so they read as empty once detached
        )
        session.add(incident)
        session.flush()
        return incident

    for attempt in range(KEY_ATTEMPTS):
        try:
            return db.transaction(insert)
        except IntegrityError:  # another replica took that number first, or opened this service's incident
            existing = open_incident_for_service(db, service)
            if existing is not None:
                raise IncidentAlreadyOpen(existing) from None
            if attempt == KEY_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def update_incident(db: Database, incident_id: int, **fields: Any) -> Incident:
    """Set columns of an incident (``card_ts=...``); its status only moves by :func:`transition`."""
    settable = set(Incident.__table__.columns.keys()) - {"id", "key", "key_year", "key_seq", "status"}
    unknown = set(fields) - settable
    if unknown:
        raise ValueError(f"cannot set {', '.join(sorted(unknown))} on an incident")

    def change(session: Session) -> Incident:
        incident = session.get(Incident, incident_id, populate_existing=True)
        if incident is None:
            raise LookupError(f"no incident with id {incident_id}")
        for name, value in fields.items():
            setattr(incident, name, value)
        session.flush()
        return incident

    return db.transaction(change)


def move(session: Session, incident_id: int, name: str, **fields: Any) -> bool:
    """The conditional UPDATE behind every move (``MOVES[name]``); False when the state did not allow it."""
    allowed, to = MOVES[name]
    statement = (
        update(Incident)
        .where(Incident.id == incident_id, Incident.status.in_([str(s) for s in allowed]))
        .values(status=str(to), **fields)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1


def transition(db: Database, incident_id: int, name: str, **fields: Any) -> Incident:
    """Make a move from ``bot.state.states.MOVES``; raises :class:`WrongState` when it is not allowed now."""

    def change(session: Session) -> Incident:
        moved = move(session, incident_id, name, **fields)
        incident = session.get(Incident, incident_id, populate_existing=True)
        if not moved:
            raise WrongState(incident, name)
        return incident

    return db.transaction(change)


def get_incident(db: Database, key_or_id: str | int) -> Incident | None:
    """By key (``INC-2026-007``, any case) or numeric id."""
    if isinstance(key_or_id, int) or str(key_or_id).strip().isdigit():
        clause = Incident.id == int(key_or_id)
    else:
        clause = Incident.key == str(key_or_id).strip().upper()
    return db.transaction(lambda s: s.scalar(select(Incident).where(clause)))


def open_incident_for_service(db: Database, service: str) -> Incident | None:
    """The newest incident of ``service`` that is neither resolved nor dismissed."""
    query = (
        select(Incident)
        .where(Incident.service == service, Incident.status.not_in(CLOSED_INCIDENT_STATUSES))
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(1)
    )
    return db.transaction(lambda s: s.scalar(query))
