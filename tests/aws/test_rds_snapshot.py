"""The ``rds_snapshot`` backup against moto: a snapshot named after the incident and the run, waited on until
available, its size and duration reported; a missing instance or a deadline passed refuses the rollback."""

from __future__ import annotations

import boto3
import pytest

from bot.providers.aws.rds import RdsSnapshot, snapshot_name
from bot.providers.aws.session import AwsSession
from bot.sandbox.aws import REGION, AwsSandbox
from bot.sandbox.aws_rds import hold_snapshots, seed_instance
from bot.strategies.base import Target
from bot.strategies.capabilities import Backup, BackupRequest
from bot.strategies.options import BackupJob


@pytest.fixture
def aws(monkeypatch):
    sandbox = AwsSandbox().start()
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    yield sandbox
    sandbox.stop()


def request(instance: str = "shopping-db", deadline: str = "2m", run_id: int = 3) -> BackupRequest:
    job = BackupJob(kind="rds_snapshot", instance=instance, region=REGION, deadline=deadline)
    return BackupRequest("shopping-service", "INC-2026-001", run_id, job, Target("shopping-service", {}))


def snapshotter(session: AwsSession) -> RdsSnapshot:
    now = [0.0]
    return RdsSnapshot(session, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])


def test_a_snapshot_named_after_the_incident_and_run_is_taken_and_waited_on(aws) -> None:
    seed_instance(aws.url, gib=20)
    session, seen = AwsSession(None, REGION), []
    taker = snapshotter(session)
    assert isinstance(taker, Backup) and snapshot_name("INC-2026-001", 3) == "rollback-inc-2026-001-r3"
    assert "RDS snapshot of shopping-db (us-east-1)" in taker.describe(request())
    result = taker.take(request(), seen.append)
    assert result.succeeded and result.name == "rollback-inc-2026-001-r3" and result.size == "20 GiB"
    assert result.detail == "RDS snapshot rollback-inc-2026-001-r3 of us-east-1/shopping-db available after 0s (20 GiB)"
    rds = boto3.client("rds", region_name=REGION)
    listed = rds.describe_db_snapshots(DBInstanceIdentifier="shopping-db", SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in listed] == ["rollback-inc-2026-001-r3"]
    again = taker.take(request(), seen.append)  # a resumed run follows its own snapshot, never a second one
    assert again.succeeded and any("already exists" in p.message for p in seen)
    assert rds.describe_db_instances()["DBInstances"][0]["DBInstanceStatus"] == "available"  # the instance untouched
    session.close()


def test_a_missing_instance_or_a_passed_deadline_refuses_the_rollback(aws) -> None:
    session = AwsSession(None, REGION)
    missing = snapshotter(session).take(request("no-such-db"), lambda p: None)
    assert not missing.succeeded and "no-such-db" in missing.detail and "the rollback is refused" in missing.detail
    seed_instance(aws.url)
    hold_snapshots(aws.front)
    slow = snapshotter(session).take(request(deadline="30s", run_id=4), lambda p: None)
    assert not slow.succeeded and slow.detail.startswith(
        "RDS snapshot rollback-inc-2026-001-r4 was still creating after 30s"
    )
    session.close()
