"""The schema version each release of a service ran on, recorded once, when the release is first seen live."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.state.db import Database
from bot.state.models import SchemaSeen, utcnow


def record(db: Database, service: str, image: str, revision: int, tool: str, version: str) -> bool:
    """Store it unless the release already has one (the first sighting wins; two replicas record it once)."""

    def add(session: Session) -> bool:
        if session.scalar(select(SchemaSeen.id).where(SchemaSeen.service == service, SchemaSeen.image == image)):
            return False
        session.add(SchemaSeen(service=service, image=image, revision=revision, tool=tool, version=version,
                               seen_at=utcnow()))  # fmt: skip
        session.flush()
        return True

    try:
        return db.transaction(add)
    except IntegrityError:  # another replica recorded it first
        return False


def seen(db: Database, service: str) -> dict[str, SchemaSeen]:
    """image -> what was recorded for it."""
    rows = db.transaction(lambda s: list(s.scalars(select(SchemaSeen).where(SchemaSeen.service == service))))
    return {row.image: row for row in rows}
