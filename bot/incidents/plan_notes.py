"""What the plan says about the run's safety steps before anyone confirms: the backup it takes first, the
schema it will not roll back, and each step the strategy cannot do here, with why."""

from __future__ import annotations

import dataclasses

from bot.config import ServiceConfig
from bot.strategies.base import Plan, Strategy
from bot.strategies.capabilities import Backup, BackupRequest, capability, skip_reasons


def with_safety(plan: Plan, service: ServiceConfig, strategy: Strategy) -> Plan:
    """The plan with what the run does before the change (backup), what it will not do (the schema), and the
    steps it skips for want of a capability (``Plan.skips``)."""
    if plan.skipped:
        return plan
    plan = dataclasses.replace(plan, skips=skip_reasons(strategy, _needed(strategy, service)))
    if service.cdn:
        cdn = service.cdn
        after = (f"after the switch: invalidate CloudFront distribution {cdn.distribution_id} ({', '.join(cdn.paths)}) "
                 f"and wait up to {cdn.deadline} for it to be Completed")
        plan = dataclasses.replace(plan, changes=(*plan.changes, after))
    if not service.db_migrations:
        return plan
    changes, warnings = list(plan.changes), list(plan.warnings)
    job, taker = service.backup_job, capability(strategy, Backup)
    if job and taker:
        changes.insert(0, taker.describe(BackupRequest(service.name, "", 0, job, plan.target)))
    runbook = service.migration_runbook or "your migration-rollback runbook"
    if not job:
        no_backup = "; no backup_job is configured, so no backup is taken first"
    else:
        no_backup = "" if taker else f"; the {strategy.name} strategy cannot take a backup, so none is taken first"
    warnings.append(
        "database migrations: the previous release may meet a schema the current one migrated. Rolling the "
        f"schema back is a separate decision, never automatic: see {runbook}" + no_backup
    )
    return dataclasses.replace(plan, changes=tuple(changes), warnings=tuple(warnings))


def _needed(strategy: Strategy, service: ServiceConfig) -> tuple[str, ...]:
    """The strategy's steps whose skip the plan names: a backup only matters when one is declared (the run's
    step says "no backup taken" otherwise)."""
    return tuple(s for s in strategy.steps if s != "backup" or service.backup_job)
