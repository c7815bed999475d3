"""Who clicked Confirm on a run: the second person's rule (Delete a bad colour) excludes the requester,
the confirmer and the approver.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rollback_runs") as batch:
        batch.add_column(sa.Column("confirmed_by", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollback_runs") as batch:
        batch.drop_column("confirmed_by")
