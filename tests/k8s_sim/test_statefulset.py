"""StatefulSets in the simulator, checked with the real kubectl: history, undo, status through ControllerRevisions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.k8s.statefulsets import REVISION_LABEL
from bot.sandbox.scenario import load_scenario
from tests.k8s_sim.conftest import Sim
from tests.support import need_binary

pytestmark = pytest.mark.kubectl
SCENARIO = Path(__file__).with_name("statefulset.yaml")
S = "statefulset/orders-db"
IMAGE = "registry.local/orders-db:"


@pytest.fixture
def sts(tmp_path: Path) -> Iterator[Sim]:
    need_binary("kubectl")
    clock = SimClock(scale=60.0)
    cluster = Cluster(load_scenario(SCENARIO), clock).start()
    server = SandboxServer(make_api(cluster)).start()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url, namespace="orders")
    try:
        yield Sim(cluster, clock, server.url, kubeconfig, tmp_path / "kube-cache")
    finally:
        cluster.stop()
        server.stop()


def _history(sim: Sim) -> dict[int, str]:
    out = sim.ok("rollout", "history", S)
    return {int(m[1]): m[2].strip() for m in re.finditer(r"^(\d+)\s+(.*)$", out, re.M)}


def _image(sim: Sim) -> str:
    return sim.ok("get", "sts", "orders-db", "-o", "jsonpath={.spec.template.spec.containers[0].image}")


def _pod_images(sim: Sim) -> dict[str, str]:
    pods = json.loads(sim.ok("get", "pods", "-o", "json"))["items"]
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods}


def test_get_statefulsets_controllerrevisions_and_pods(sts):
    out = sts.ok("get", "sts")
    assert re.search(r"^orders-db\s+3/3\s+3d$", out, re.M), out
    wide = sts.ok("get", "sts", "-o", "wide")
    assert "db" in wide and f"{IMAGE}v2.0.2" in wide
    revisions = sts.ok("get", "controllerrevisions")
    rows = re.findall(r"^(orders-db-\w+)\s+statefulset\.apps/orders-db\s+(\d)\s+\S+$", revisions, re.M)
    assert sorted(int(n) for _, n in rows) == [1, 2, 3], revisions
    assert re.findall(r"^orders-db-[012]\s+1/1\s+Running\s+0", sts.ok("get", "pods"), re.M)
    assert set(_pod_images(sts).values()) == {f"{IMAGE}v2.0.2"}
    full = json.loads(sts.ok("get", "sts", "orders-db", "-o", "json"))
    status = full["status"]
    assert status["currentRevision"] == status["updateRevision"] and status["updatedReplicas"] == 3
    assert full["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}


def test_rollout_history_lists_revisions_and_shows_one(sts):
    assert _history(sts) == {
        1: "deploy v2.0.0: first release",
        2: "deploy v2.0.1: faster reads",
        3: "deploy v2.0.2: new index",
    }
    one = sts.ok("rollout", "history", S, "--revision", "1")
    assert "with revision #1" in one and f"{IMAGE}v2.0.0" in one


def test_rollout_undo_renumbers_the_old_revision_and_rolls_pods_back(sts):
    assert "rolled back" in sts.ok("rollout", "undo", S)
    status = sts.ok("rollout", "status", S, "--timeout", "30s")
    assert "partitioned roll out complete: 3 new pods have been updated" in status
    assert _image(sts) == f"{IMAGE}v2.0.1"
    assert _history(sts) == {
        1: "deploy v2.0.0: first release",
        3: "deploy v2.0.2: new index",
        4: "deploy v2.0.1: faster reads",
    }
    assert set(_pod_images(sts).values()) == {f"{IMAGE}v2.0.1"}
    sts.ok("rollout", "undo", S, "--to-revision", "1")
    sts.ok("rollout", "status", S, "--timeout", "30s")
    assert _image(sts) == f"{IMAGE}v2.0.0" and max(_history(sts)) == 5
    full = json.loads(sts.ok("get", "sts", "orders-db", "-o", "json"))
    pods = json.loads(sts.ok("get", "pods", "-o", "json"))["items"]
    assert {p["metadata"]["labels"][REVISION_LABEL] for p in pods} == {full["status"]["updateRevision"]}


def test_rollout_undo_to_the_live_revision_changes_nothing(sts):
    # kubectl compares the revision's raw bytes with its own encoding of the live template; it prints
    # "rolled back" here rather than "skipped", but the patch is a no-op: no new revision, no pod replaced.
    before = _pod_images(sts), json.loads(sts.ok("get", "pods", "-o", "json"))["items"]
    sts.ok("rollout", "undo", S, "--to-revision", "3")
    assert _history(sts) == {
        1: "deploy v2.0.0: first release",
        2: "deploy v2.0.1: faster reads",
        3: "deploy v2.0.2: new index",
    }
    after = json.loads(sts.ok("get", "pods", "-o", "json"))["items"]
    assert [p["metadata"]["uid"] for p in after] == [p["metadata"]["uid"] for p in before[1]]


def test_set_image_rolls_from_the_highest_ordinal_one_pod_at_a_time(sts):
    sts.ok("set", "image", S, f"db={IMAGE}v2.0.4")
    status = sts.ok("rollout", "status", S, "--timeout", "30s")
    assert status.strip().endswith("partitioned roll out complete: 3 new pods have been updated...")
    pods = json.loads(sts.ok("get", "pods", "-o", "json"))["items"]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {f"{IMAGE}v2.0.4"}
    born = {p["metadata"]["name"]: p["metadata"]["creationTimestamp"] for p in pods}
    # each pod is replaced only once its successor is ready (2 s): 2 first, then 1, then 0
    assert born["orders-db-2"] < born["orders-db-1"] < born["orders-db-0"]


def test_partition_keeps_lower_ordinals_on_the_old_revision(sts):
    sts.ok("patch", S, "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}')
    sts.ok("set", "image", S, f"db={IMAGE}v2.0.4")
    status = sts.ok("rollout", "status", S, "--timeout", "30s")
    assert "partitioned roll out complete: 1 new pods have been updated..." in status
    images = _pod_images(sts)
    assert images["orders-db-2"] == f"{IMAGE}v2.0.4"
    assert images["orders-db-0"] == images["orders-db-1"] == f"{IMAGE}v2.0.2"
    full = json.loads(sts.ok("get", "sts", "orders-db", "-o", "json"))
    assert full["status"]["currentRevision"] != full["status"]["updateRevision"]
    assert (full["status"]["currentReplicas"], full["status"]["updatedReplicas"]) == (2, 1)


def test_rollout_status_waits_on_a_crash_looping_pod(sts):
    sts.ok("set", "image", S, f"db={IMAGE}v2.0.3-crashloop")
    result = sts.kubectl("rollout", "status", S, "--timeout", "3s")
    assert result.returncode != 0
    assert "Waiting for 1 pods to be ready..." in result.stdout
    pods = sts.ok("get", "pods")
    assert re.search(r"^orders-db-2\s+0/1", pods, re.M) and re.search(r"^orders-db-1\s+1/1", pods, re.M)


def test_scale_down_removes_the_highest_ordinals(sts):
    assert "scaled" in sts.ok("scale", S, "--replicas", "1")
    sts.ok("rollout", "status", S, "--timeout", "30s")
    assert sorted(_pod_images(sts)) == ["orders-db-0"]
    assert re.search(r"^orders-db\s+1/1", sts.ok("get", "sts"), re.M)
