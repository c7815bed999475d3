"""Workers record a heartbeat of their own (``workers``), not only the leases of the runs they hold: an idle
worker is alive too, and ``GET /readyz`` tells a replica without any live worker from a healthy one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.state.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("lease_seconds", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workers")
