"""An incident has a communications lead (``/rollback comms @user``) besides its incident lead; how far its
decision deadline's pings went (``deadline_stage``: 0 none, 1 the lead and owners, 2 the escalation contact); and
the update interval a status update chose (``update_every_s``; None: the catalog's); and ``pages``, the escalation
pages with their acknowledgement.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.state.models import Json, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("comms_user_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("deadline_stage", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("update_every_s", sa.Integer(), nullable=True))
    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False, index=True),
        sa.Column("situation", sa.String(40), nullable=False),
        sa.Column("chain", Json, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("respond_within_s", sa.Integer(), nullable=False),
        sa.Column("paged_by", sa.String(32), nullable=False),
        sa.Column("paged_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("acked_by", sa.String(32), nullable=True),
        sa.Column("acked_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pages")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("update_every_s")
        batch.drop_column("deadline_stage")
        batch.drop_column("comms_user_id")
