"""A person's hand on a running rollback (Hold / Resume / Go to 0 now during a canary step-down), and the
versions of the ConfigMaps and Secrets the services use (config rollback).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from bot.state.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("rollback_runs") as batch:
        batch.add_column(sa.Column("control", sa.String(16), nullable=True))
        batch.add_column(sa.Column("control_by", sa.String(32), nullable=True))
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("resource_version", sa.String(64), nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("keys", JSON, nullable=False),
        sa.Column("changed_keys", JSON, nullable=False),
        sa.Column("data", JSON, nullable=True),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("namespace", "kind", "name", "data_hash", "resource_version", name="uq_config_versions"),
    )
    op.create_index("ix_config_versions_object", "config_versions", ["namespace", "kind", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_config_versions_object", "config_versions")
    op.drop_table("config_versions")
    with op.batch_alter_table("rollback_runs") as batch:
        batch.drop_column("control_by")
        batch.drop_column("control")
