"""What a rollback crosses in the database: the schema the target revision ran on against the schema now."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.schema.read import Migration, Schema, label

RISKY = re.compile(r"drop|rename|truncate", re.IGNORECASE)


def risky(m: Migration) -> bool:
    """A migration the older release is likely incompatible with (its name drops, renames or truncates)."""
    return bool(RISKY.search(f"{m.description} {m.version}"))


@dataclass(frozen=True)
class Crossing:
    then: str | None  # the version the target revision ran on (None: never recorded)
    now: Schema
    between: tuple[Migration, ...] = ()  # applied after ``then``, in order
    listed: bool = True  # whether ``between`` is known (alembic keeps only its head)

    @property
    def known(self) -> bool:
        return self.then is not None and self.now.version is not None

    @property
    def differs(self) -> bool:
        """The schemas differ, or either is unknown: the plan then requires the backup first."""
        return not self.known or self.then != self.now.version

    @property
    def flagged(self) -> tuple[Migration, ...]:
        return tuple(m for m in self.between if risky(m))

    def words(self, release: str) -> str:
        """``v1.2.4 ran on V12; the database is at V14: V13 add_column orders.coupon_code, V14 drop_table …``."""
        tool = self.now.tool
        if self.now.version is None:
            return f"schema unknown: {self.now.unknown}"
        if self.then is None:
            return f"the schema {release} ran on was not recorded (schema unknown); the database is at {self.now.title}"
        if not self.differs:
            return f"{release} ran on {label(tool, self.then)}, the schema the database is at now"
        head = f"{release} ran on {label(tool, self.then)}; the database is at {self.now.title}"
        if not self.listed:
            return f"{head} ({tool} records only its head: the migrations between are not listed)"
        return f"{head}: " + ", ".join(_line(m, tool) for m in self.between)


def _line(m: Migration, tool: str) -> str:
    when = " ".join(x for x in (f"on {m.installed_on}" if m.installed_on else "", f"by {m.by}" if m.by else "") if x)
    flag = " ⚠ likely incompatible" if risky(m) else ""
    return f"{m.title(tool)}{f' ({when})' if when else ''}{flag}"


def compare(then: str | None, now: Schema) -> Crossing:
    """The migrations applied after ``then`` (the target's version) up to the database's version now."""
    if then is None or now.version is None or then == now.version:
        return Crossing(then, now)
    if now.tool == "alembic":
        return Crossing(then, now, listed=False)
    versions = [m.version for m in now.migrations]
    if then not in versions:  # the target's version is not in the history (cleaned, or the database was rolled back)
        return Crossing(then, now, listed=False)
    return Crossing(then, now, tuple(now.migrations[versions.index(then) + 1 :]))
