"""Display names, captured while people act, so a postmortem or report needs no Slack call."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.state.db import Database
from bot.state.models import Person, utcnow


def known(db: Database, user_ids: Iterable[str]) -> dict[str, str]:
    """user id -> display name, for the ids already captured."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    query = select(Person.user_id, Person.name).where(Person.user_id.in_(ids))
    return db.transaction(lambda s: dict(s.execute(query).tuples().all()))


def remember(db: Database, user_id: str, name: str) -> None:
    def upsert(session: Session) -> None:
        session.merge(Person(user_id=user_id, name=name, updated_at=utcnow()))

    db.transaction(upsert)
