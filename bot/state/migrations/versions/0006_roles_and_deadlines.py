"""An incident has a communications lead (``/rollback comms @user``) besides its incident lead; how far its
decision deadline's pings went (``deadline_stage``: 0 none, 1 the lead and owners, 2 the escalation contact); and
the update interval a status update chose (``update_every_s``; None: the catalog's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("comms_user_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("deadline_stage", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("update_every_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("update_every_s")
        batch.drop_column("deadline_stage")
        batch.drop_column("comms_user_id")
