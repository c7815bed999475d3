"""The deployment controller's revision rules and the pod simulation, seen through Cluster.list/get."""

from __future__ import annotations

from bot.sandbox.k8s import Cluster, writes
from bot.sandbox.k8s.objects import parse_time
from bot.sandbox.k8s.resources import BY_PLURAL

NS, NAME = "shopping", "shopping-service"
REV = "deployment.kubernetes.io/revision"


def _rs_by_revision(cluster: Cluster) -> dict[int, dict]:
    return {int(rs["metadata"]["annotations"][REV]): rs for rs in cluster.list("replicasets", NS)}


def _image(obj: dict) -> str:
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def _set_image(cluster: Cluster, image: str) -> None:
    with cluster.store.lock:
        d = cluster.get("deployments", NS, NAME)
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        writes.replace(cluster, BY_PLURAL["deployments"], NS, NAME, d, None)
    cluster.tick()


def _settle(cluster: Cluster, seconds: float = 60) -> None:
    for _ in range(int(seconds)):
        cluster.clock.advance(1)
        cluster.tick()


def test_seeded_history_has_one_replicaset_per_release_with_change_cause_and_age(cluster):
    by_rev = _rs_by_revision(cluster)
    assert sorted(by_rev) == [1, 2, 3]
    assert [_image(by_rev[n]).rsplit(":", 1)[1] for n in (1, 2, 3)] == ["v1.2.3", "v1.2.4", "v1.2.5"]
    assert (
        by_rev[2]["metadata"]["annotations"]["kubernetes.io/change-cause"]
        == "deploy v1.2.4: faster cart totals"
    )
    ages = [cluster.clock.now() - parse_time(by_rev[n]["metadata"]["creationTimestamp"]) for n in (1, 2, 3)]
    assert 71 * 3600 < ages[0] < 73 * 3600 and 25 * 3600 < ages[1] < 27 * 3600 and ages[2] < 3600
    assert [by_rev[n]["spec"]["replicas"] for n in (1, 2, 3)] == [0, 0, 3]
    for rs in by_rev.values():
        assert rs["metadata"]["name"] == f"{NAME}-{rs['metadata']['labels']['pod-template-hash']}"
        assert rs["metadata"]["ownerReferences"][0]["controller"] is True


def test_seeded_deployment_is_live_with_ready_pods_service_and_endpoints(cluster):
    d = cluster.get("deployments", NS, NAME)
    assert d["metadata"]["annotations"][REV] == "3"
    assert d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
    assert d["status"]["availableReplicas"] == 3 and d["status"]["updatedReplicas"] == 3
    pods = cluster.list("pods", NS, {"app": NAME})
    assert len(pods) == 3 and all(p["status"]["containerStatuses"][0]["ready"] for p in pods)
    assert cluster.get("services", NS, NAME)["spec"]["ports"][0]["port"] == 8080
    assert len(cluster.get("endpoints", NS, NAME)["subsets"][0]["addresses"]) == 3


def test_rollback_reuses_the_old_replicaset_as_new_max_revision_with_history(cluster):
    first = _rs_by_revision(cluster)[2]["metadata"]["name"]
    _set_image(cluster, "registry.local/shopping-service:v1.2.4")
    _settle(cluster)
    by_rev = _rs_by_revision(cluster)
    assert sorted(by_rev) == [1, 3, 4]
    assert by_rev[4]["metadata"]["name"] == first
    assert by_rev[4]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"
    d = cluster.get("deployments", NS, NAME)
    assert d["metadata"]["annotations"][REV] == "4"
    assert d["status"]["updatedReplicas"] == 3 and d["status"]["availableReplicas"] == 3
    assert all(p["metadata"]["name"].startswith(first) for p in cluster.list("pods", NS))


def test_template_hash_is_stable_for_the_same_template(cluster):
    names = {rs["metadata"]["name"] for rs in cluster.list("replicasets", NS)}
    again = Cluster(cluster.scenario, cluster.clock)
    assert {rs["metadata"]["name"] for rs in again.list("replicasets", NS)} == names


def test_crashloop_image_never_gets_ready_and_times_out_progressing(cluster):
    _set_image(cluster, "registry.local/shopping-service:v1.2.6-crashloop")
    _settle(cluster, 35)
    bad = [p for p in cluster.list("pods", NS) if "crashloop" in p["spec"]["containers"][0]["image"]]
    assert len(bad) == 1  # maxSurge 1, maxUnavailable 0: the rollout is stuck at one new pod
    status = bad[0]["status"]["containerStatuses"][0]
    assert not status["ready"] and status["restartCount"] == 3
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    cluster.clock.advance(601)
    cluster.tick()
    progressing = {c["type"]: c for c in cluster.get("deployments", NS, NAME)["status"]["conditions"]}[
        "Progressing"
    ]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cluster.get("deployments", NS, NAME)["status"]["availableReplicas"] == 3  # old pods keep serving


def test_revision_history_limit_prunes_old_empty_replicasets(cluster):
    with cluster.store.lock:
        d = cluster.store.get(BY_PLURAL["deployments"], NS, NAME)
        d["spec"]["revisionHistoryLimit"] = 1
        cluster.write(BY_PLURAL["deployments"], d)
    _set_image(cluster, "registry.local/shopping-service:v9")
    _settle(cluster)
    assert sorted(_rs_by_revision(cluster)) == [3, 4]


def test_paused_deployment_does_not_roll_out_until_resumed(cluster):
    with cluster.store.lock:
        d = cluster.store.get(BY_PLURAL["deployments"], NS, NAME)
        d["spec"]["paused"] = True
        cluster.write(BY_PLURAL["deployments"], d)
    _set_image(cluster, "registry.local/shopping-service:v9")
    _settle(cluster, 10)
    assert sorted(_rs_by_revision(cluster)) == [1, 2, 3]
    conds = {c["type"]: c for c in cluster.get("deployments", NS, NAME)["status"]["conditions"]}
    assert conds["Progressing"]["reason"] == "DeploymentPaused"
    with cluster.store.lock:
        d = cluster.store.get(BY_PLURAL["deployments"], NS, NAME)
        d["spec"]["paused"] = False
        cluster.write(BY_PLURAL["deployments"], d)
    _settle(cluster)
    assert _image(_rs_by_revision(cluster)[4]).endswith(":v9")
