"""batch/v1 Jobs in the simulator: a pod per attempt, Complete or Failed as the scenario's image says,
``activeDeadlineSeconds``, and the table the real kubectl prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kubernetes import client

from bot.sandbox.clock import SimClock
from bot.sandbox.k8s import Cluster
from bot.sandbox.k8s.resources import BY_PLURAL
from bot.sandbox.k8s.writes import create
from bot.sandbox.scenario import load_scenario
from tests.k8s_world import NS, SCENARIO, World, served_world

JOB = BY_PLURAL["jobs"]


def job(name: str, image: str, **spec) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            **spec,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "dump", "image": image}]}},
        },
    }


@pytest.fixture
def cluster() -> Cluster:
    """No thread, no server: time moves only with ``clock.advance``."""
    return Cluster(load_scenario(SCENARIO), SimClock(1.0))


def submit(cluster: Cluster, body: dict) -> None:
    with cluster.store.lock:
        create(cluster, JOB, NS, body)
    cluster.tick()


def conditions(obj: dict) -> dict[str, str]:
    return {c["type"]: c.get("reason", "") for c in obj["status"].get("conditions") or [] if c["status"] == "True"}


def pods_of(cluster: Cluster, name: str) -> list[dict]:
    return cluster.list("pods", NS, {"job-name": name})


def test_a_job_runs_one_pod_then_completes(cluster):
    submit(cluster, job("dump", "registry.local/backup:ok"))
    running = cluster.get("jobs", NS, "dump")
    assert running["status"]["active"] == 1 and not conditions(running)
    [pod] = pods_of(cluster, "dump")
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job" and pod["status"]["phase"] == "Running"
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "dump"
    assert (
        running["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == running["metadata"]["uid"]
    )
    cluster.clock.advance(6)
    done = cluster.get("jobs", NS, "dump")
    assert conditions(done) == {"SuccessCriteriaMet": "CompletionsReached", "Complete": "CompletionsReached"}
    assert done["status"]["succeeded"] == 1 and "active" not in done["status"] and done["status"]["completionTime"]
    [pod] = pods_of(cluster, "dump")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


def test_a_failing_pod_fails_the_job_at_its_backoff_limit(cluster):
    submit(cluster, job("once", "registry.local/backup:fails"))
    submit(cluster, job("twice", "registry.local/backup:fails", backoffLimit=1))
    cluster.clock.advance(4)
    once = cluster.get("jobs", NS, "once")
    assert conditions(once) == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    assert once["status"]["failed"] == 1 and "succeeded" not in once["status"]
    assert not conditions(cluster.get("jobs", NS, "twice"))  # a second pod comes after the 10 s backoff
    cluster.clock.advance(10)
    assert len(pods_of(cluster, "twice")) == 2 and not conditions(cluster.get("jobs", NS, "twice"))
    cluster.clock.advance(4)
    twice = cluster.get("jobs", NS, "twice")
    assert twice["status"]["failed"] == 2 and conditions(twice)["Failed"] == "BackoffLimitExceeded"


def test_active_deadline_stops_a_job_and_deletes_its_pod(cluster):
    submit(cluster, job("slow", "registry.local/backup:slow", activeDeadlineSeconds=30))
    cluster.clock.advance(20)
    assert pods_of(cluster, "slow") and not conditions(cluster.get("jobs", NS, "slow"))
    cluster.clock.advance(11)
    slow = cluster.get("jobs", NS, "slow")
    assert conditions(slow)["Failed"] == "DeadlineExceeded"
    assert "longer than specified deadline" in slow["status"]["conditions"][-1]["message"]
    assert pods_of(cluster, "slow") == []


def test_deleting_a_job_deletes_its_pods(cluster):
    submit(cluster, job("dump", "registry.local/backup:ok"))
    with cluster.store.lock:
        cluster.remove(JOB, NS, "dump")
    assert pods_of(cluster, "dump") == []


@pytest.fixture
def world(tmp_path: Path):
    with served_world(tmp_path) as w:
        yield w


@pytest.mark.kubectl
def test_python_client_and_kubectl_see_jobs(world: World):
    batch = client.BatchV1Api(world.client)
    batch.create_namespaced_job(NS, job("good", "registry.local/backup:ok"))
    batch.create_namespaced_job(NS, job("bad", "registry.local/backup:fails"))
    world.until(lambda: all(conditions(world.cluster.get("jobs", NS, n)) for n in ("good", "bad")))
    assert batch.read_namespaced_job("good", NS).status.succeeded == 1
    table = world.kubectl("get", "jobs")
    assert re.search(r"^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\s*$", table, re.M), table
    assert re.search(r"^good\s+Complete\s+1/1\s+[56]s\s+\d+s", table, re.M), table
    assert re.search(r"^bad\s+Failed\s+0/1\s+\d+s\s+\d+s", table, re.M), table
    wide = world.kubectl("get", "job", "good", "-o", "wide")
    assert "registry.local/backup:ok" in wide and "batch.kubernetes.io/controller-uid=" in wide
    pods = world.kubectl("get", "pods", "-l", "job-name=good")
    assert re.search(r"good-\w{5}\s+0/1\s+Completed\s+0", pods), pods
    assert "job.batch/good" in world.kubectl("get", "all")
