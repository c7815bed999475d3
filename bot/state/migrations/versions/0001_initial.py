"""Initial schema: incidents, append-only timeline, plans, rollback runs and steps, action items, status updates,
people.

Not yet released: amended in place while the schema settles (no database outside tests uses it).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from bot.state.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TABLES_NEWEST_FIRST = (
    "people", "status_updates", "action_items", "run_steps", "rollback_runs", "plans", "timeline_events", "incidents"
)
ACTIVE = "status IN ('pending', 'running')"
OPEN = "NOT status IN ('dismissed', 'resolved')"


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(32), nullable=False, unique=True),
        sa.Column("key_year", sa.Integer, nullable=False),
        sa.Column("key_seq", sa.Integer, nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("channel_name", sa.String(80)),
        sa.Column("card_ts", sa.String(32)),
        sa.Column("declared_by", sa.String(32), nullable=False),
        sa.Column("lead_user_id", sa.String(32)),
        sa.Column("assessment", JSON),
        sa.Column("current_revision", sa.Integer),
        sa.Column("current_image", sa.String(512)),
        sa.Column("target_revision", sa.Integer),
        sa.Column("target_image", sa.String(512)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("root_cause", sa.Text),
        sa.Column("impact", sa.Text),
        sa.Column("lessons", sa.Text),
        sa.Column("declared", JSON),
        sa.Column("next_reminder_at", UTCDateTime),
        sa.Column("postmortem", sa.Text),
        sa.UniqueConstraint("key_year", "key_seq", name="uq_incidents_key_year_seq"),
        sa.CheckConstraint(
            "status IN ('dismissed', 'forward_fix', 'mitigated', 'open', 'resolved', 'rolling_back')",
            name="ck_incidents_status",
        ),
    )
    op.create_index("ix_incidents_service_status", "incidents", ["service", "status"])
    op.create_index(
        "uq_incidents_open_service",
        "incidents",
        ["service"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )

    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", JSON),
    )
    op.create_index("ix_timeline_events_incident_at", "timeline_events", ["incident_id", "at", "id"])
    _forbid_changes("timeline_events")

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(32), nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("decided_at", UTCDateTime),
        sa.Column("message_ts", sa.String(32)),
        sa.CheckConstraint(
            "status IN ('cancelled', 'confirmed', 'shown', 'superseded')", name="ck_plans_status"
        ),
    )
    op.create_index("ix_plans_incident_id", "plans", ["incident_id"])

    op.create_table(
        "rollback_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("target", JSON, nullable=False),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(32), nullable=False),
        sa.Column("approved_by", sa.String(32)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_expires_at", UTCDateTime),
        sa.Column("heartbeat_at", UTCDateTime),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id")),
        sa.CheckConstraint(
            "status IN ('cancelled', 'could_not_verify', 'expired', 'failed', 'pending', 'running', "
            "'verification_failed', 'verified')",
            name="ck_rollback_runs_status",
        ),
    )
    op.create_index("ix_rollback_runs_incident_id", "rollback_runs", ["incident_id"])
    op.create_index("ix_rollback_runs_status_lease", "rollback_runs", ["status", "lease_expires_at"])
    op.create_index(
        "uq_rollback_runs_active_service",
        "rollback_runs",
        ["service"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )

    op.create_table(
        "run_steps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("rollback_runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.UniqueConstraint("run_id", "position", name="uq_run_steps_position"),
        sa.UniqueConstraint("run_id", "name", name="uq_run_steps_name"),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'skipped')", name="ck_run_steps_status"
        ),
    )

    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner", sa.String(32)),
        sa.Column("due", sa.Date),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    op.create_index("ix_action_items_incident_id", "action_items", ["incident_id"])

    op.create_table(
        "status_updates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("channel_ts", sa.String(32)),
    )
    op.create_index("ix_status_updates_incident_id", "status_updates", ["incident_id"])

    op.create_table(
        "people",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def _forbid_changes(table: str) -> None:
    """Make the table append-only in the database itself, whoever connects."""
    message = f"{table} is append-only"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    for table in TABLES_NEWEST_FIRST:
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS timeline_events_append_only()")
