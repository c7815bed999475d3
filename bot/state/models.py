"""ORM models: incidents, their append-only timeline, rollback runs and their steps.

Statuses are plain strings (listed in the ``*_STATUSES`` tuples and checked by the
database) so rows stay readable with any SQL client. Every timestamp is UTC and comes
back timezone-aware on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.state.states import ACTIVE_RUN, CLOSED, IncidentStatus, PlanStatus, RunStatus, StepStatus, sql_in

INCIDENT_STATUSES = tuple(IncidentStatus)
CLOSED_INCIDENT_STATUSES = tuple(sorted(CLOSED))
RUN_STATUSES = tuple(RunStatus)
ACTIVE_RUN_STATUSES = tuple(sorted(ACTIVE_RUN))
STEP_STATUSES = tuple(StepStatus)
PLAN_STATUSES = tuple(PlanStatus)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return sql_in(column, values)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC with microseconds; refuses naive datetimes, returns aware ones (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware (UTC) datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("key_year", "key_seq", name="uq_incidents_key_year_seq"),
        CheckConstraint(_in("status", INCIDENT_STATUSES), name="ck_incidents_status"),
        Index("ix_incidents_service_status", "service", "status"),
        # One open incident per service, enforced by the database itself.
        Index(
            "uq_incidents_open_service",
            "service",
            unique=True,
            sqlite_where=text(f"NOT {_in('status', CLOSED_INCIDENT_STATUSES)}"),
            postgresql_where=text(f"NOT {_in('status', CLOSED_INCIDENT_STATUSES)}"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)  # INC-2026-001
    key_year: Mapped[int] = mapped_column(Integer)
    key_seq: Mapped[int] = mapped_column(Integer)  # numeric, so the max is right past 999
    service: Mapped[str] = mapped_column(String(128))
    namespace: Mapped[str] = mapped_column(String(128), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    channel_id: Mapped[str | None] = mapped_column(String(32))
    channel_name: Mapped[str | None] = mapped_column(String(80))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    declared_by: Mapped[str] = mapped_column(String(32))
    lead_user_id: Mapped[str | None] = mapped_column(String(32))
    comms_user_id: Mapped[str | None] = mapped_column(String(32))  # the communications lead (/rollback comms)
    deadline_stage: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 1 pinged, 2 escalated
    update_every_s: Mapped[int | None] = mapped_column(Integer)  # a status update's chosen interval
    assessment: Mapped[dict | None] = mapped_column(Json)
    current_revision: Mapped[int | None] = mapped_column(Integer)
    current_image: Mapped[str | None] = mapped_column(String(512))
    target_revision: Mapped[int | None] = mapped_column(Integer)
    target_image: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    root_cause: Mapped[str | None] = mapped_column(Text)
    impact: Mapped[str | None] = mapped_column(Text)
    lessons: Mapped[str | None] = mapped_column(Text)
    declared: Mapped[list | None] = mapped_column(Json)  # what a person declared: data-loss, security-breach
    next_reminder_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # None: no more reminders
    postmortem: Mapped[str | None] = mapped_column(Text)  # the markdown; files and uploads are copies

    action_items: Mapped[list[ActionItem]] = relationship(
        back_populates="incident", lazy="selectin", order_by="ActionItem.id"
    )
    status_updates: Mapped[list[StatusUpdate]] = relationship(
        back_populates="incident", lazy="selectin", order_by="[StatusUpdate.at, StatusUpdate.id]"
    )

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_INCIDENT_STATUSES


class TimelineEvent(Base):
    """Append-only: the database refuses UPDATE and DELETE on this table (see the migration)."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_incident_at", "incident_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # declared, assessed, decision, plan, progress, ...
    actor: Mapped[str] = mapped_column(String(32), default="bot")  # Slack user id or "bot"
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict | None] = mapped_column(Json)


class RollbackRun(Base):
    __tablename__ = "rollback_runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="ck_rollback_runs_status"),
        # One active run per service, enforced by the database itself.
        Index(
            "uq_rollback_runs_active_service",
            "service",
            unique=True,
            sqlite_where=text(_in("status", ACTIVE_RUN_STATUSES)),
            postgresql_where=text(_in("status", ACTIVE_RUN_STATUSES)),
        ),
        Index("ix_rollback_runs_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    service: Mapped[str] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(64))
    target: Mapped[dict] = mapped_column(Json)
    plan: Mapped[dict] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str] = mapped_column(String(32))
    approved_by: Mapped[str | None] = mapped_column(String(32))
    confirmed_by: Mapped[str | None] = mapped_column(String(32))  # who clicked Confirm (None: queued by the bot)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    control: Mapped[str | None] = mapped_column(String(16))  # a person's hand on it: "hold", "resume", "zero"
    control_by: Mapped[str | None] = mapped_column(String(32))

    steps: Mapped[list[RunStep]] = relationship(
        back_populates="run", lazy="selectin", order_by="RunStep.position", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class RunStep(Base):
    __tablename__ = "run_steps"
    __table_args__ = (
        UniqueConstraint("run_id", "position", name="uq_run_steps_position"),
        UniqueConstraint("run_id", "name", name="uq_run_steps_name"),
        CheckConstraint(_in("status", STEP_STATUSES), name="ck_run_steps_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("rollback_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    detail: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    run: Mapped[RollbackRun] = relationship(back_populates="steps")


class ActionItem(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(32))  # Slack user id
    due: Mapped[dt.date | None] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(default=False)

    incident: Mapped[Incident] = relationship(back_populates="action_items")


class Page(Base):
    """A page of an escalation situation: who was paged (``chain[:step + 1]``), until when the current step has to
    answer (``due_at``), and who acknowledged it when (*I'm on it*)."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    situation: Mapped[str] = mapped_column(String(40))
    chain: Mapped[list] = mapped_column(Json)  # user ids, in escalation order
    step: Mapped[int] = mapped_column(Integer, default=0)
    respond_within_s: Mapped[int] = mapped_column(Integer)
    paged_by: Mapped[str] = mapped_column(String(32))
    paged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(32))
    acked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StatusUpdate(Base):
    __tablename__ = "status_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    channel_ts: Mapped[str | None] = mapped_column(String(32))

    incident: Mapped[Incident] = relationship(back_populates="status_updates")


class PlanRow(Base):
    """A dry-run plan shown in the channel; decided once (confirmed or cancelled) by a conditional UPDATE."""

    __tablename__ = "plans"
    __table_args__ = (CheckConstraint(_in("status", PLAN_STATUSES), name="ck_plans_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    plan: Mapped[dict] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.SHOWN)
    requested_by: Mapped[str] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    message_ts: Mapped[str | None] = mapped_column(String(32))


class Person(Base):
    """Display names captured when people act, so a report needs no Slack call."""

    __tablename__ = "people"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConfigVersion(Base):
    """One version of a ConfigMap or Secret a service uses, as the config tracker saw it.

    A ConfigMap's data is kept to restore it; a Secret's values never are (not even encrypted): only
    its key names and a keyed hash (HMAC), so a leaked bot database leaks no secret, nor lets one check a
    guess.
    """

    __tablename__ = "config_versions"
    __table_args__ = (
        UniqueConstraint("namespace", "kind", "name", "data_hash", "resource_version", name="uq_config_versions"),
        Index("ix_config_versions_object", "namespace", "kind", "name", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(16))  # ConfigMap | Secret
    name: Mapped[str] = mapped_column(String(253))
    resource_version: Mapped[str] = mapped_column(String(64))
    data_hash: Mapped[str] = mapped_column(String(64))  # of the data, keys sorted: sha256, a Secret's HMAC
    # A Secret's: the id of the CONFIG_FINGERPRINT_KEY its hashes were made with ("unkeyed": before 0004).
    # Versions under different keys are never compared. A ConfigMap's: "".
    fingerprint_key: Mapped[str] = mapped_column(String(16), default="", server_default="")
    keys: Mapped[dict] = mapped_column(Json)  # every key -> a short hash of its value (a Secret: nothing more)
    changed_keys: Mapped[list] = mapped_column(Json)  # against the version before (all keys for the first)
    data: Mapped[dict | None] = mapped_column(Json)  # ConfigMap values; always None for a Secret
    changed_by: Mapped[str] = mapped_column(String(128), default="")  # the managedFields manager, if any
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerBeat(Base):
    """A running worker and its last heartbeat (the database's clock): ``/readyz`` asks for one younger than
    its lease. A worker deletes its row when it stops; a crashed one's row just grows old."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_seconds: Mapped[float] = mapped_column(Float)


class SchemaSeen(Base):
    """The schema version a service's database was at when a release (its image) was first seen live: "v1.2.4
    ran on V12". Read only by the plan (what a rollback to it crosses) and ``/rollback history``."""

    __tablename__ = "schema_versions"
    __table_args__ = (UniqueConstraint("service", "image", name="uq_schema_versions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(253))
    image: Mapped[str] = mapped_column(String(512))
    revision: Mapped[int] = mapped_column(Integer)  # its revision number when first seen
    tool: Mapped[str] = mapped_column(String(16))  # flyway | liquibase | alembic
    version: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
