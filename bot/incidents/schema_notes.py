"""The database side of a rollback: the schema each release ran on (recorded when it is first seen live), what
``/rollback history`` says of it, and what the plan says a rollback to an earlier release would cross.

Reads only: the service's database through its read-only URL (``bot.schema``), never a write.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.config import ServiceConfig
from bot.incidents.common import target
from bot.runtime import Runtime
from bot.schema import compare, read_service_schema
from bot.schema.read import label
from bot.state import schema_versions
from bot.strategies.base import Plan, RollbackError

log = logging.getLogger(__name__)

BACKUP_REQUIRED = "the schema differs from the one the target ran on, so this rollback requires the backup first"


def record_live(rt: Runtime) -> None:
    """The ``schema versions`` job: for each service with a ``database:``, the schema version its live release
    runs on, recorded the first time that release is seen live (an unreadable database: tried next pass)."""
    for service in (s for s in rt.catalog.services.values() if s.database):
        try:
            history = rt.strategy_for(service).history(target(service))
        except RollbackError as exc:
            log.warning("schema versions: cannot read the history of %s: %s", service.name, exc)
            continue
        if not history or history[-1].image in schema_versions.seen(rt.db, service.name):
            continue
        live, schema = history[-1], read_service_schema(service.database)
        if schema.version is None:
            log.warning("schema versions: %s %s: %s", service.name, live.words, schema.unknown)
            continue
        if schema_versions.record(rt.db, service.name, live.image, live.number, schema.tool, schema.version):
            log.info("schema versions: %s %s runs on %s", service.name, live.words, schema.title)


def history_schemas(rt: Runtime, service: ServiceConfig) -> dict[str, str]:
    """image -> "schema V12" for ``/rollback history`` ("schema unknown" for a release never recorded)."""
    if not service.database:
        return {}
    return {
        image: f"schema {label(row.tool, row.version)}"
        for image, row in schema_versions.seen(rt.db, service.name).items()
    }


def with_schema(rt: Runtime, plan: Plan, service: ServiceConfig) -> Plan:
    """The plan with the schema the target ran on against the database now, the migrations in between (those
    that drop, rename or truncate flagged), and the backup it then requires."""
    if not service.database or plan.skipped or plan.desired is None:
        return plan
    row = schema_versions.seen(rt.db, service.name).get(plan.desired.image)
    crossing = compare(row.version if row else None, read_service_schema(service.database))
    notes = [f"database: {crossing.words(plan.desired.version)}"]
    if crossing.flagged:
        names = ", ".join(m.title(crossing.now.tool) for m in crossing.flagged)
        notes.append(f"likely incompatible with {plan.desired.version}: {names} (drop, rename or truncate)")
    if crossing.differs:
        backup = "" if service.backup_job else "; no backup_job is configured: add one before rolling back"
        approval = "; a second person approves it (require_approval)" if service.require_approval else ""
        notes.append(BACKUP_REQUIRED + backup + approval)
    return dataclasses.replace(plan, warnings=(*plan.warnings, *notes))
