"""The ``Backup`` capability ``rds_snapshot``: an RDS snapshot of the service's DB instance before a rollback
that crosses migrations (the game-server guide's first step), waited on until *available* within a deadline.

The snapshot is named after the incident and the run (``rollback-inc-2026-001-r3``): a resumed run finds the
one it started (DBSnapshotAlreadyExists) and waits for it, a later run takes its own. Nothing is deleted or
modified: a snapshot is only created and read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from bot.config import duration_seconds
from bot.providers.aws.errors import AwsError, call
from bot.strategies.base import Progress
from bot.strategies.capabilities import BackupRequest, BackupResult

POLL_SECONDS = 5.0
REFUSED = "the rollback is refused, as the plan said: it crosses database migrations and needs a backup first"
IAM = ("rds:CreateDBSnapshot", "rds:DescribeDBSnapshots")


def snapshot_name(incident: str, run_id: int) -> str:
    """An RDS identifier: a letter first, letters, digits and single hyphens, at most 255 characters."""
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", incident.lower())).strip("-") or "incident"
    return f"rollback-{slug}-r{run_id}"[:255]


class RdsSnapshot:
    """``session``: the ``AwsSession`` of the instance's region; ``sleep`` and ``clock`` for the tests."""

    def __init__(
        self,
        session,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.rds = session.client("rds")
        self.sleep, self.clock, self.poll = sleep, clock, poll_seconds

    def describe(self, request: BackupRequest) -> str:
        job = request.declared
        return (
            f"first, take an RDS snapshot of {job.instance} ({job.region}) and wait until it is available, for at "
            f"most {job.deadline}; if it fails or takes longer, the rollback stops there and nothing else changes"
        )

    def title(self, request: BackupRequest) -> str:
        return f"RDS snapshot {snapshot_name(request.incident, request.run_id)}"

    def take(self, request: BackupRequest, progress: Callable[[Progress], None]) -> BackupResult:
        job, name = request.declared, snapshot_name(request.incident, request.run_id)
        where, hint = f"{job.region}/{job.instance}", f"aws rds describe-db-snapshots --db-snapshot-identifier {name}"
        started = self.clock()
        try:
            self._create(job.instance, name, progress)
            return self._wait(name, where, hint, started, duration_seconds(job.deadline), progress)
        except AwsError as exc:
            return BackupResult(name, where, False, f"RDS snapshot {name} of {job.instance}: {exc}; {REFUSED}", hint)

    def _create(self, instance: str, name: str, progress: Callable[[Progress], None]) -> None:
        try:
            call(self.rds, "create_db_snapshot", f"DB instance {instance}", "no snapshot was started",
                 DBSnapshotIdentifier=name, DBInstanceIdentifier=instance,
                 Tags=[{"Key": "rollback-bot/purpose", "Value": "pre-rollback backup"}])  # fmt: skip
            progress(Progress(f"RDS snapshot {name} of {instance} started"))
        except AwsError as exc:
            if "DBSnapshotAlreadyExists" not in str(exc.__cause__ or exc):
                raise
            progress(Progress(f"RDS snapshot {name} already exists (a resumed run): following it"))

    def _wait(
        self, name: str, where: str, hint: str, started: float, deadline: float, progress: Callable[[Progress], None]
    ) -> BackupResult:
        while True:
            found = call(self.rds, "describe_db_snapshots", f"DB snapshot {name}", "the snapshot's state is unknown",
                         DBSnapshotIdentifier=name)["DBSnapshots"][0]  # fmt: skip
            status, took = found.get("Status", "?"), self.clock() - started
            progress(Progress(f"RDS snapshot {name}: {status}", done=status == "available"))
            size = f"{found['AllocatedStorage']} GiB" if found.get("AllocatedStorage") else ""
            if status == "available":
                detail = f"RDS snapshot {name} of {where} available after {took:.0f}s" + (f" ({size})" if size else "")
                return BackupResult(name, where, True, detail, hint, size=size, seconds=took)
            if status in ("failed", "deleted", "incompatible-restore"):
                return BackupResult(name, where, False, f"RDS snapshot {name} is {status}; {REFUSED}", hint, size, took)
            if took >= deadline:
                detail = f"RDS snapshot {name} was still {status} after {deadline:.0f}s; {REFUSED}. It may still finish"
                return BackupResult(name, where, False, f"{detail}: `{hint}`.", hint, size, took)
            self.sleep(self.poll)
