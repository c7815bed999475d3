"""A person's hand on a running rollback: Hold / Resume / Go to 0 now during a canary step-down.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rollback_runs") as batch:
        batch.add_column(sa.Column("control", sa.String(16), nullable=True))
        batch.add_column(sa.Column("control_by", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollback_runs") as batch:
        batch.drop_column("control_by")
        batch.drop_column("control")
