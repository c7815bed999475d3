"""Catalog settings as plain values: a strategy's options (``StrategySpec.options``) and a service's backup Job.

A strategy's options travel inside ``Target.options`` (a dict, so a run stored as JSON carries them) and are
read back with ``from_options``; the catalog validates them (each options class's ``read``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BackupJob:
    """A service's ``backup_job``: run before a rollback that may cross database migrations."""

    image: str = ""  # job, dump: the Job's image and command (a dump's: the runbook's pg_dump / mysqldump)
    command: tuple[str, ...] = ()
    namespace: str | None = None  # None: the workload's namespace
    deadline: str = "10m"
    kind: str = "job"  # job | dump (a Kubernetes Job) | rds_snapshot (boto3 create_db_snapshot)
    instance: str = ""  # rds_snapshot: the DB instance identifier
    region: str = ""  # rds_snapshot: its region


def to_options(options: Any) -> dict[str, Any]:
    """A strategy's options instance as a Target's options dict ({}: it has none)."""
    return dataclasses.asdict(options) if options is not None else {}


def from_options(cls: type, options: dict[str, Any]) -> Any:
    """The options back from a Target's options (lists from JSON become tuples)."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if k in names}
    return cls(**values)


@dataclass(frozen=True)
class Cdn:
    """A service's ``cdn``: the CloudFront distribution in front of it, invalidated after every successful switch
    so its edges stop serving what the bad release made."""

    distribution_id: str
    paths: tuple[str, ...] = ("/*",)
    deadline: str = "10m"  # how long the invalidation may stay InProgress before the step says so
    profile: str = ""  # an AWS named profile that reaches the distribution's account ("": the credential chain)
