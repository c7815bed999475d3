"""Plans as rows: shown once, decided once.

A plan is posted with Confirm / Cancel; its buttons carry the plan's id. Deciding is a
conditional UPDATE from ``shown``, so when Confirm and Cancel are clicked at the same
instant exactly one wins. Confirming also moves the incident to ``rolling_back`` and
queues the run, in the same transaction: either all three happen or none does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.state.db import Database
from bot.state.incidents import WrongState, move
from bot.state.models import Incident, PlanRow, RollbackRun, utcnow
from bot.state.runs import insert_run, run_once
from bot.state.states import PlanStatus


class PlanDecided(Exception):
    """The plan was already confirmed, cancelled, or replaced by a newer one."""

    def __init__(self, plan: PlanRow) -> None:
        super().__init__(f"plan {plan.id} is {plan.status}")
        self.plan = plan


def show(db: Database, incident_id: int, plan: dict[str, Any], requested_by: str) -> PlanRow:
    """Record a new plan; older plans of the incident that were still shown are superseded."""

    def insert(session: Session) -> PlanRow:
        session.execute(
            update(PlanRow)
            .where(PlanRow.incident_id == incident_id, PlanRow.status == PlanStatus.SHOWN)
            .values(status=PlanStatus.SUPERSEDED, decided_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        row = PlanRow(incident_id=incident_id, plan=plan, status=PlanStatus.SHOWN, requested_by=requested_by)
        session.add(row)
        session.flush()
        return row

    return db.transaction(insert)


def set_message(db: Database, plan_id: int, ts: str) -> None:
    statement = update(PlanRow).where(PlanRow.id == plan_id).values(message_ts=ts)
    db.transaction(lambda s: s.execute(statement.execution_options(synchronize_session=False)))


def get(db: Database, plan_id: int) -> PlanRow | None:
    return db.transaction(lambda s: s.get(PlanRow, plan_id, populate_existing=True))


def _decide(session: Session, plan_id: int, user: str, status: PlanStatus) -> None:
    decided = session.execute(
        update(PlanRow)
        .where(PlanRow.id == plan_id, PlanRow.status == PlanStatus.SHOWN)
        .values(status=status, decided_by=user, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:
        row = session.get(PlanRow, plan_id, populate_existing=True)
        session.expunge(row)  # readable after the rollback that the exception causes
        raise PlanDecided(row)


def cancel(db: Database, plan_id: int, user: str) -> PlanRow:
    """Cancel a shown plan; raises :class:`PlanDecided` when someone decided it first."""

    def change(session: Session) -> PlanRow:
        _decide(session, plan_id, user, PlanStatus.CANCELLED)
        return session.get(PlanRow, plan_id, populate_existing=True)

    return db.transaction(change)


def confirm(
    db: Database,
    plan_id: int,
    user: str,
    *,
    service: str,
    strategy: str,
    target: dict[str, Any],
    steps: list[str],
    approved_by: str | None = None,
    **incident_fields: Any,
) -> RollbackRun:
    """Decide the plan, move the incident to ``rolling_back`` and queue the run, all or nothing.

    Raises :class:`PlanDecided`, :class:`bot.state.incidents.WrongState` (the incident was closed or
    is already rolling back) or :class:`bot.state.runs.RunAlreadyActive`.
    """

    def insert(session: Session) -> tuple[RollbackRun | None, RollbackRun | None]:
        _decide(session, plan_id, user, PlanStatus.CONFIRMED)
        row = session.get(PlanRow, plan_id)
        run, existing = insert_run(
            session,
            row.incident_id,
            service,
            strategy,
            target,
            row.plan,
            row.requested_by,
            steps,
            approved_by=approved_by,
            plan_id=plan_id,
            confirmed_by=user,
        )
        if run is None:
            session.rollback()  # the plan stays shown: the other run is reported instead
            return None, existing
        if not move(session, row.incident_id, "start_rollback", **incident_fields):
            raise WrongState(session.get(Incident, row.incident_id, populate_existing=True), "start_rollback")
        return run, None

    return run_once(db, service, insert)


def latest_shown(db: Database, incident_id: int) -> PlanRow | None:
    query = (
        select(PlanRow)
        .where(PlanRow.incident_id == incident_id, PlanRow.status == PlanStatus.SHOWN)
        .order_by(PlanRow.id.desc())
        .limit(1)
    )
    return db.transaction(lambda s: s.scalar(query))
