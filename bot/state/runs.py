"""Durable rollback runs: one row per rollback, its steps, and a lease held by the worker running it.

- One active (pending or running) run per service: a partial unique index, so Slack retries
  and double clicks on two replicas cannot start a second one.
- A worker ``claim``s a run with a lease and renews it with ``heartbeat``; when a replica
  dies its lease runs out and another worker claims the run and resumes it.
- On PostgreSQL the claim uses ``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent workers
  never wait on (or take) the same row; on SQLite transactions are serialised anyway and the
  claim is a compare-and-set UPDATE.
- One clock: leases, heartbeats, the queue's order (``created_at``) and the expiry of pending
  runs are the database's time (``db_now``), so a replica whose clock is off neither steals a live
  lease nor makes its own look expired. ``now`` parameters are this replica's clock: they only
  stamp what people read (when a run or a step started or ended), and tests inject them.
- A pending run waits as long as workers are busy: it expires only when no worker has claimed or
  renewed anything within a lease (none is running), never because every slot is full.

Everything returned is detached from its session but fully loaded (steps included).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.state.db import Database, db_now
from bot.state.incidents import move
from bot.state.models import (
    ACTIVE_RUN_STATUSES,
    CLOSED_INCIDENT_STATUSES,
    STEP_STATUSES,
    Incident,
    RollbackRun,
    RunStep,
    UTCDateTime,
    utcnow,
)
from bot.state.states import ACTIVE_RUN, FINAL_STEP, RUN_OUTCOME_MOVE, RunStatus

LEASE_SECONDS = 30.0  # a worker's default lease; a crashed worker's run is resumed this long after

FINAL_RUN_STATUSES = tuple(str(s) for s in RunStatus if s not in ACTIVE_RUN)
FINAL_STEP_STATUSES = tuple(str(s) for s in FINAL_STEP)


class LeaseLost(Exception):
    """This worker no longer holds the run (another took it over, or it ended): it must write nothing more."""


class RunAlreadyActive(Exception):
    """A rollback of this service is already pending or running; says who started it and when."""

    def __init__(self, run: RollbackRun) -> None:
        self.run = run
        self.requested_by = run.requested_by
        self.since: dt.datetime = run.started_at or run.created_at
        super().__init__(
            f"a rollback of {run.service} is already {run.status} (run {run.id}, requested by "
            f"{run.requested_by} at {self.since:%Y-%m-%d %H:%M:%S} UTC)"
        )


def start_run(
    db: Database,
    incident_id: int,
    service: str,
    strategy: str,
    target: dict[str, Any],
    plan: dict[str, Any],
    requested_by: str,
    steps: list[str],
    approved_by: str | None = None,
    now: dt.datetime | None = None,
) -> RollbackRun:
    """Queue a pending run with its steps; raises :class:`RunAlreadyActive` if the service has one."""

    def insert(session: Session) -> tuple[RollbackRun | None, RollbackRun | None]:
        return insert_run(
            session, incident_id, service, strategy, target, plan, requested_by, steps, approved_by, now
        )

    return run_once(db, service, insert)


def insert_run(
    session: Session,
    incident_id: int,
    service: str,
    strategy: str,
    target: dict[str, Any],
    plan: dict[str, Any],
    requested_by: str,
    steps: list[str],
    approved_by: str | None = None,
    now: dt.datetime | None = None,
    plan_id: int | None = None,
    confirmed_by: str | None = None,
) -> tuple[RollbackRun | None, RollbackRun | None]:
    """Add a pending run inside ``session``: (new run, None), or (None, the service's active run)."""
    existing = _active(session, service)
    if existing is not None:
        return None, existing
    run = RollbackRun(
        incident_id=incident_id, service=service, strategy=strategy, target=target, plan=plan,
        status="pending", requested_by=requested_by, approved_by=approved_by, confirmed_by=confirmed_by,
        created_at=now or db_now(), attempts=0, plan_id=plan_id,
        steps=[RunStep(position=i, name=name, status="pending", detail="") for i, name in enumerate(steps)],
    )
    session.add(run)
    session.flush()
    if now is None:
        session.refresh(run, ["created_at"])  # the database's clock, read back before the session closes
    return run, None


def run_once(db: Database, service: str, insert) -> Any:
    """Run ``insert`` (a transaction returning (run, active)) and settle races on the partial unique index."""
    for attempt in range(3):
        try:
            run, existing = db.transaction(insert)
        except IntegrityError:
            # Lost the race on the partial unique index: report the run that won it.
            existing = active_run(db, service)
            if existing is None and attempt == 2:
                raise  # not the index (e.g. unknown incident), or it keeps finishing under us
            run = None
        if existing is not None:
            raise RunAlreadyActive(existing)
        if run is not None:
            return run
    raise AssertionError("unreachable")


def claim(
    db: Database, worker_id: str, lease_seconds: float, now: dt.datetime | None = None
) -> RollbackRun | None:
    """Take the oldest pending run, or a running one whose lease ran out; None when there is none.

    The lease is the database's clock plus ``lease_seconds``; ``now`` (this replica's clock) only
    stamps ``started_at`` on the first claim.
    """
    closed = select(Incident.id).where(Incident.status.in_(CLOSED_INCIDENT_STATUSES))
    claimable = or_(
        and_(RollbackRun.status == "pending", RollbackRun.incident_id.not_in(closed)),
        and_(
            RollbackRun.status == "running",
            or_(RollbackRun.lease_expires_at.is_(None), RollbackRun.lease_expires_at <= db_now()),
        ),
    )
    started = literal(now, UTCDateTime()) if now is not None else db_now()

    def take(session: Session) -> RollbackRun | None:
        run_id = session.scalar(
            select(RollbackRun.id)
            .where(claimable)
            .order_by(RollbackRun.created_at, RollbackRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if run_id is None:
            return None
        taken = session.execute(
            update(RollbackRun)
            .where(RollbackRun.id == run_id, claimable)  # compare-and-set
            .values(
                status="running",
                lease_owner=worker_id,
                lease_expires_at=db_now(lease_seconds),
                heartbeat_at=db_now(),
                started_at=func.coalesce(RollbackRun.started_at, started),
                attempts=RollbackRun.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return _load(session, run_id) if taken.rowcount == 1 else None

    return db.transaction(take)


def heartbeat(db: Database, run_id: int, worker_id: str, lease_seconds: float) -> bool:
    """Renew the lease (the database's clock plus ``lease_seconds``); False when this worker lost it
    (expired and taken by another, or the run ended)."""
    statement = (
        update(RollbackRun)
        .where(RollbackRun.id == run_id, RollbackRun.status == "running",
               RollbackRun.lease_owner == worker_id)
        .values(lease_expires_at=db_now(lease_seconds), heartbeat_at=db_now())
        .execution_options(synchronize_session=False)
    )
    return db.transaction(lambda s: s.execute(statement).rowcount == 1)


def _held(run_id: int, worker_id: str | None) -> list:
    """The WHERE clause of a write by ``worker_id``: the run is running and this worker holds its lease."""
    if worker_id is None:
        return [RollbackRun.id == run_id]
    return [RollbackRun.id == run_id, RollbackRun.status == "running", RollbackRun.lease_owner == worker_id]


def step(
    db: Database,
    run_id: int,
    name: str,
    status: str,
    detail: str = "",
    now: dt.datetime | None = None,
    worker_id: str | None = None,
) -> RunStep:
    """Set a step's state (an unknown name is appended as a new last step); empty detail keeps the old one.

    Given ``worker_id``, the write happens only while that worker holds the run's lease; otherwise
    :class:`LeaseLost` is raised and nothing is written.
    """
    if status not in STEP_STATUSES:
        raise ValueError(f"unknown step status {status!r}; expected one of {', '.join(STEP_STATUSES)}")
    now = now or utcnow()

    def change(session: Session) -> RunStep:
        if worker_id is not None:
            held = session.scalar(select(RollbackRun.id).where(*_held(run_id, worker_id)).with_for_update())
            if held is None:
                raise LeaseLost(f"run {run_id} is no longer held by {worker_id}")
        row = session.scalar(select(RunStep).where(RunStep.run_id == run_id, RunStep.name == name))
        if row is None:
            last = session.scalar(select(func.max(RunStep.position)).where(RunStep.run_id == run_id))
            row = RunStep(run_id=run_id, name=name, position=0 if last is None else last + 1, detail="")
            session.add(row)
        row.status = status
        if detail:
            row.detail = detail
        if status == "running" and row.started_at is None:
            row.started_at = now
        if status in FINAL_STEP_STATUSES:
            row.finished_at = now
        session.flush()
        return row

    return db.transaction(change)


def finish(
    db: Database,
    run_id: int,
    status: str,
    error: str | None = None,
    worker_id: str | None = None,
    now: dt.datetime | None = None,
    only_if: tuple[ColumnElement[bool], ...] = (),
    **incident_fields: Any,
) -> bool:
    """End an active run and move its incident on (``RUN_OUTCOME_MOVE``), in one transaction.

    False when the run had already ended, ``only_if`` no longer holds or, given ``worker_id``, this
    worker lost its lease: then nothing is written. A closed incident is never moved back.
    """
    if status not in FINAL_RUN_STATUSES:
        raise ValueError(f"a run finishes as one of {', '.join(FINAL_RUN_STATUSES)}, not {status!r}")
    conditions = [*_held(run_id, worker_id), RollbackRun.status.in_(ACTIVE_RUN_STATUSES), *only_if]
    statement = (
        update(RollbackRun)
        .where(*conditions)
        .values(status=status, error=error, finished_at=now or utcnow(), lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )

    def end(session: Session) -> bool:
        if session.execute(statement).rowcount != 1:
            return False
        incident_id = session.scalar(select(RollbackRun.incident_id).where(RollbackRun.id == run_id))
        move(session, incident_id, RUN_OUTCOME_MOVE[RunStatus(status)], **incident_fields)
        return True

    return db.transaction(end)


def sweep(
    db: Database, pending_for: dt.timedelta, lease_seconds: float = LEASE_SECONDS, now: dt.datetime | None = None
) -> list[RollbackRun]:
    """End the pending runs that must not start: their incident closed (cancelled), or they waited
    ``pending_for`` while no worker claimed or renewed anything within ``lease_seconds`` (expired: no
    worker is running). A run queued behind busy workers waits. Returns them, ended, so the worker
    can tell the channel; ``now`` stamps ``finished_at``."""
    closed = select(Incident.id).where(Incident.status.in_(CLOSED_INCIDENT_STATUSES))
    other = aliased(RollbackRun)
    busy = select(other.id).where(other.heartbeat_at > db_now(-lease_seconds)).exists()
    stale = and_(RollbackRun.created_at < db_now(-pending_for.total_seconds()), ~busy)
    minutes = f"{pending_for.total_seconds() / 60:g}"
    reasons = {
        RunStatus.CANCELLED: "its incident was closed before it started",
        RunStatus.EXPIRED: f"no worker was running to start it within {minutes} minutes",
    }
    ended: list[RollbackRun] = []
    for status, where in ((RunStatus.CANCELLED, RollbackRun.incident_id.in_(closed)), (RunStatus.EXPIRED, stale)):
        still = (RollbackRun.status == "pending", where)  # checked again as it ends: a worker may claim it now
        query = select(RollbackRun.id).where(*still)
        for run_id in db.transaction(lambda s, q=query: list(s.scalars(q))):
            if finish(db, run_id, status, error=reasons[status], now=now, only_if=still):
                ended.append(get_run(db, run_id))
    return ended


def queued_ahead(db: Database, run_id: int) -> int:
    """How many rollbacks a pending run waits behind: every running one, and the pending ones that are
    claimed before it (older). 0 once it runs."""

    def count(session: Session) -> int:
        run = session.get(RollbackRun, run_id)
        if run is None or run.status != "pending":
            return 0
        closed = select(Incident.id).where(Incident.status.in_(CLOSED_INCIDENT_STATUSES))
        older = or_(
            RollbackRun.created_at < run.created_at,
            and_(RollbackRun.created_at == run.created_at, RollbackRun.id < run.id),
        )
        waiting = and_(RollbackRun.status == "pending", older, RollbackRun.incident_id.not_in(closed))
        ahead = or_(RollbackRun.status == "running", waiting)
        return session.scalar(select(func.count()).select_from(RollbackRun).where(ahead)) or 0

    return db.transaction(count)


def pending_incidents(db: Database) -> list[int]:
    """The incidents whose rollback waits in the queue (their cards say how long the queue is)."""
    query = select(RollbackRun.incident_id).where(RollbackRun.status == "pending").order_by(RollbackRun.id)
    return db.transaction(lambda s: list(s.scalars(query)))


def active_run(db: Database, service: str) -> RollbackRun | None:
    """The pending or running run of ``service``, if any."""
    return db.transaction(lambda s: _active(s, service))


def get_run(db: Database, run_id: int) -> RollbackRun | None:
    return db.transaction(lambda s: _load(s, run_id))


def _active(session: Session, service: str) -> RollbackRun | None:
    active = RollbackRun.status.in_(ACTIVE_RUN_STATUSES)
    query = select(RollbackRun).where(RollbackRun.service == service, active)
    return session.scalar(query.execution_options(populate_existing=True))


def _load(session: Session, run_id: int) -> RollbackRun | None:
    query = select(RollbackRun).where(RollbackRun.id == run_id).execution_options(populate_existing=True)
    return session.scalar(query)


def set_control(db: Database, run_id: int, control: str, user_id: str) -> bool:
    """A person's hand on a running run (``hold``, ``resume``, ``zero``); False when the run is no longer
    running. The run reads it between its steps (``control_of``)."""
    statement = (
        update(RollbackRun)
        .where(RollbackRun.id == run_id, RollbackRun.status.in_(ACTIVE_RUN_STATUSES))
        .values(control=control, control_by=user_id)
        .execution_options(synchronize_session=False)
    )
    return db.transaction(lambda s: s.execute(statement).rowcount == 1)


def control_of(db: Database, run_id: int) -> tuple[str | None, str | None]:
    """The run's control and who set it."""
    row = db.transaction(
        lambda s: s.execute(select(RollbackRun.control, RollbackRun.control_by).where(RollbackRun.id == run_id)).first()
    )
    return (row[0], row[1]) if row else (None, None)
