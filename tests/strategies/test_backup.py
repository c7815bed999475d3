"""The pre-rollback backup Job: the manifest (pure), then run_backup against the simulator over HTTP with the
real python client: success, failure, deadline, a resumed run adopting its Job (and a second run never adopting
the first one's), and refused calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.providers.kubernetes.api import Call
from bot.providers.kubernetes.backup import job_manifest, job_name, run_backup
from bot.strategies.base import Progress, RollbackError
from bot.strategies.options import BackupJob
from tests.k8s_world import NS, World, served_world

INCIDENT, RUN = "INC-2026-042", 7


def spec(tag: str, deadline: str = "10m") -> BackupJob:
    return BackupJob(f"registry.local/backup:{tag}", ("pg_dump", "--file", "s3://backups/checkout.sql"), None, deadline)


def test_manifest_runs_once_with_a_deadline_and_names_service_incident_and_run():
    m = job_manifest("checkout", INCIDENT, RUN, spec("ok", "15m"), "shop")
    assert m["metadata"]["name"] == "rollback-backup-checkout-2026-042-r7" and m["metadata"]["namespace"] == "shop"
    assert m["spec"]["backoffLimit"] == 0 and m["spec"]["activeDeadlineSeconds"] == 900
    labels = m["metadata"]["labels"]
    assert labels["rollback-bot/service"] == "checkout" and labels["rollback-bot/incident"] == INCIDENT
    assert labels["rollback-bot/run"] == "7"
    pod = m["spec"]["template"]
    assert pod["metadata"]["labels"] == labels and pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["command"] == ["pg_dump", "--file", "s3://backups/checkout.sql"]
    other = BackupJob("img", ("true",), namespace="backups")
    assert job_manifest("checkout", INCIDENT, RUN, other, "shop")["metadata"]["namespace"] == "backups"


def test_names_fit_a_label_value_and_durations_parse():
    long = job_name("a-very-long-service-name-that-goes-on-and-on-and-on-forever", "INC-2026-123", 12345)
    assert len(long) <= 63 and long.endswith("-2026-123-r12345") and not long.startswith("-")
    assert job_name("Checkout_API", "inc-1", 3) == "rollback-backup-checkout-api-1-r3"


@pytest.fixture
def world(tmp_path: Path):
    with served_world(tmp_path, request_timeout=2.0) as w:
        yield w


def backup(world: World, tag: str, deadline: str = "10m", wait: float = 300) -> tuple[object, list[Progress]]:
    seen: list[Progress] = []
    manifest = job_manifest("checkout", INCIDENT, RUN, spec(tag, deadline), NS)
    return run_backup(world.api, manifest, world.clock, wait, seen.append), seen


def test_a_completed_job_lets_the_rollback_go_on(world):
    result, seen = backup(world, "ok")
    assert result.succeeded and result.name == "rollback-backup-checkout-2026-042-r7" and result.namespace == NS
    assert "completed in 5s" in result.detail
    assert result.logs_hint == f"kubectl logs job/{result.name} -n {NS}"
    assert seen[0].message == f"backup job {result.name} created in {NS}" and seen[-1].done
    job = world.cluster.get("jobs", NS, result.name)
    assert job["status"]["succeeded"] == 1


def test_a_failed_job_refuses_the_rollback_and_says_why(world):
    result, seen = backup(world, "fails")
    assert not result.succeeded
    assert "failed: its pod exited with code 1 (Error) [BackoffLimitExceeded]" in result.detail
    assert "the rollback is refused" in result.detail and result.logs_hint in result.detail
    assert "then roll back again: the next rollback runs a fresh backup Job" in result.detail
    assert len(world.cluster.list("pods", NS, {"job-name": result.name})) == 1  # backoffLimit 0: no retry


def test_the_jobs_own_deadline_stops_it(world):
    result, _ = backup(world, "slow", deadline="20s")
    assert not result.succeeded and "ran longer than its deadline (20s) and was stopped" in result.detail


def test_the_bots_deadline_ends_the_wait_and_leaves_the_job(world):
    result, _ = backup(world, "slow", wait=10)
    assert not result.succeeded and "did not finish within 10s" in result.detail
    assert "the rollback is refused" in result.detail
    assert world.cluster.get("jobs", NS, result.name) is not None


def test_a_resumed_run_adopts_its_job_instead_of_starting_another(world):
    manifest = job_manifest("checkout", INCIDENT, RUN, spec("ok"), NS)
    first = run_backup(world.api, manifest, world.clock, 1, lambda p: None)  # the worker died while waiting
    assert not first.succeeded
    seen: list[Progress] = []
    again = run_backup(world.api, manifest, world.clock, 300, seen.append)
    assert again.succeeded and "already exists (a resumed run)" in seen[0].message
    assert [j["metadata"]["name"] for j in world.cluster.list("jobs", NS)] == [manifest["metadata"]["name"]]
    assert len(world.cluster.list("pods", NS, {"job-name": manifest["metadata"]["name"]})) == 1


def test_a_job_of_the_same_name_made_for_something_else_is_not_adopted(world):
    manifest = job_manifest("checkout", INCIDENT, RUN, spec("ok"), NS)
    foreign = job_manifest("checkout", INCIDENT, RUN, spec("ok"), NS)
    foreign["metadata"]["labels"] = {"team": "dba"}
    world.api.write(Call("create", "jobs", NS), foreign)
    with pytest.raises(RollbackError, match="already exists and was not made for this rollback"):
        run_backup(world.api, manifest, world.clock, 60, lambda p: None)


def test_a_forbidden_create_names_the_missing_permission(world):
    world.cluster.faults.add(403, verb="create", resource="jobs")
    with pytest.raises(RollbackError) as refused:
        backup(world, "ok")
    text = str(refused.value)
    assert "not allowed to create jobs in namespace shop" in text and 'API group "batch"' in text
    assert "no backup was started, so the rollback is refused" in text
    assert "kubectl auth can-i create jobs.batch -n shop" in text


def test_reads_failing_for_good_make_the_outcome_unknown(world):
    world.cluster.faults.add(500, verb="get", resource="jobs")
    with pytest.raises(RollbackError, match="the backup's outcome is unknown, so the rollback is refused"):
        backup(world, "ok", wait=4)


@pytest.mark.parametrize("first_tag", ["ok", "fails"])
def test_a_second_rollback_in_the_incident_takes_a_fresh_backup(world, first_tag):
    first = run_backup(world.api, job_manifest("checkout", INCIDENT, RUN, spec(first_tag), NS), world.clock, 300,
                       lambda p: None)
    assert first.succeeded is (first_tag == "ok")
    seen: list[Progress] = []
    second = run_backup(world.api, job_manifest("checkout", INCIDENT, RUN + 1, spec("ok"), NS), world.clock, 300,
                        seen.append)
    assert second.succeeded and second.name == "rollback-backup-checkout-2026-042-r8" != first.name
    assert seen[0].message == f"backup job {second.name} created in {NS}"
    assert sorted(j["metadata"]["name"] for j in world.cluster.list("jobs", NS)) == sorted([first.name, second.name])
    assert len(world.cluster.list("pods", NS, {"job-name": second.name})) == 1, "a dump of its own"


def test_a_job_of_another_run_under_the_same_name_is_not_adopted(world):
    manifest = job_manifest("checkout", INCIDENT, RUN, spec("ok"), NS)
    earlier = job_manifest("checkout", INCIDENT, RUN, spec("ok"), NS)
    earlier["metadata"]["labels"]["rollback-bot/run"] = "6"
    world.api.write(Call("create", "jobs", NS), earlier)
    with pytest.raises(RollbackError, match="already exists and was not made for this rollback"):
        run_backup(world.api, manifest, world.clock, 60, lambda p: None)
