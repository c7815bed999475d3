"""The schema version each release of a service ran on (``schema_versions``), recorded when it is first live.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.state.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(253), nullable=False),
        sa.Column("image", sa.String(512), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(16), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("service", "image", name="uq_schema_versions"),
    )


def downgrade() -> None:
    op.drop_table("schema_versions")
