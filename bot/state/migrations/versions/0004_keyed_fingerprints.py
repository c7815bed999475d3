"""Secret fingerprints are keyed (HMAC-SHA256 under CONFIG_FINGERPRINT_KEY): ``config_versions.fingerprint_key``.

A Secret row recorded before this holds a plain truncated SHA-256 of each value. It cannot be converted
to an HMAC (that needs the values, which the bot never had), and it is the very thing keying removes: with
a copy of the database, anyone can check a guessed value (a short password, a token format) against it.

The choice: those rows are kept and marked ``unkeyed``, and their hashes are erased (each key's hash
emptied, ``data_hash`` made unique per row so that it never equals any other). What they still hold, when
a Secret changed, which keys and by whom, stays in the table as evidence for past postmortems. The bot
reads a Secret's versions only under its current key, so an unkeyed row is never compared with a keyed
one, never matched as a restore source, and is no config state. Each Secret's tracked history starts
again at its next record (the tracker lists at start). Deleting them instead would have lost that
evidence for no gain; keeping their hashes would have kept the leak.

ConfigMap rows are unchanged (their values are stored anyway; plain SHA-256 stays).

Downgrade: the older code compares plain hashes, so every Secret row (keyed or not) is deleted, and the
older tracker records each Secret again as it finds it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
UNKEYED = "unkeyed"

versions = sa.table(
    "config_versions",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("data_hash", sa.String),
    sa.column("keys", JSON),
    sa.column("fingerprint_key", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("config_versions") as batch:
        batch.add_column(sa.Column("fingerprint_key", sa.String(16), nullable=False, server_default=""))
    conn = op.get_bind()
    rows = conn.execute(sa.select(versions.c.id, versions.c["keys"]).where(versions.c.kind == "Secret")).all()
    for row_id, keys in rows:
        conn.execute(
            versions.update()
            .where(versions.c.id == row_id)
            .values(
                fingerprint_key=UNKEYED,
                data_hash=f"{UNKEYED}-{row_id}",
                keys={name: "" for name in keys or {}},
            )
        )
    if rows:
        log.warning(
            "config_versions: %d Secret version(s) recorded with plain SHA-256 fingerprints are marked %r and "
            "their hashes erased; they are no longer compared or restored from, and each Secret's history "
            "starts again at its next record (with CONFIG_FINGERPRINT_KEY set).",
            len(rows), UNKEYED,
        )


def downgrade() -> None:
    op.execute(versions.delete().where(versions.c.kind == "Secret"))
    with op.batch_alter_table("config_versions") as batch:
        batch.drop_column("fingerprint_key")
