"""StatefulSetUndo against the Kubernetes API simulator over HTTP with the official client, no mocks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from bot.providers.kubernetes.locator import k8s_target, with_workload
from bot.providers.kubernetes.statefulset.strategy import StatefulSetUndo
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.scenario import load_scenario
from bot.steps.rollout import target_change
from bot.strategies.base import ConcurrentChange, Progress, RollbackError, Target, planned

SCENARIO = Path(__file__).parents[1] / "k8s_sim" / "statefulset.yaml"
IMAGE = "registry.local/orders-db:"
SCALE, TIMEOUT = 20.0, 5.0


@dataclasses.dataclass
class StsSim:
    clock: SimClock
    api: client.ApiClient
    strategy: StatefulSetUndo
    target: Target

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    def sts(self) -> dict:
        return self.api.sanitize_for_serialization(self.apps.read_namespaced_stateful_set("orders-db", "orders"))

    def pods(self) -> dict[str, str]:
        items = client.CoreV1Api(self.api).list_namespaced_pod("orders").items
        return {p.metadata.name: p.spec.containers[0].image for p in items}

    def set_image(self, version: str) -> None:
        body = {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": IMAGE + version}]}}}}
        self.apps.patch_namespaced_stateful_set("orders-db", "orders", body)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[StsSim]:
    clock = SimClock(SCALE)
    cluster = Cluster(load_scenario(SCENARIO), clock).start()
    server = SandboxServer(make_api(cluster)).start()
    write_kubeconfig(tmp_path / "kubeconfig", server.url, "orders")
    api = config.new_client_from_config(config_file=str(tmp_path / "kubeconfig"))
    target = k8s_target("orders-db", "orders", "orders-db", "db")
    try:
        yield StsSim(clock, api, StatefulSetUndo(api, clock=clock, request_timeout=TIMEOUT), target)
    finally:
        cluster.faults.clear()
        api.close()
        cluster.stop()
        server.stop()


def run(sim: StsSim, target: Target) -> tuple[object, list[Progress]]:
    seen: list[Progress] = []
    plan = sim.strategy.plan(target)
    sim.strategy.apply(plan)
    sim.strategy.wait(target, seen.append, 600)
    return plan, seen


def test_history_reads_controllerrevisions(sim):
    history = sim.strategy.history(sim.target)
    assert [(r.number, r.version) for r in history] == [(1, "v2.0.0"), (2, "v2.0.1"), (3, "v2.0.2")]
    assert history[1].change_cause == "deploy v2.0.1: faster reads"
    assert all(r.name.startswith("orders-db-") and r.created_at for r in history)


def test_plan_to_previous_describes_the_change_the_order_and_carries_a_guard(sim):
    plan = sim.strategy.plan(sim.target)
    assert (plan.strategy, plan.current.number, plan.desired.number, plan.skipped) == ("statefulset", 3, 2, None)
    assert plan.changes == (f"image db: {IMAGE}v2.0.2 -> {IMAGE}v2.0.1", "revision 3 -> 2 (becomes revision 4)")
    assert any(
        "one at a time from the highest ordinal (orders-db-2 first, orders-db-0 last)" in w for w in plan.warnings
    )
    rv = sim.sts()["metadata"]["resourceVersion"]
    assert plan.guard == rv
    assert plan.operations[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": rv}
    assert plan.operations[1]["path"] == "/spec/template" and "$patch" not in plan.operations[1]["value"]


def test_plan_to_revision_skipped_and_unknown(sim):
    plan = sim.strategy.plan(dataclasses.replace(sim.target, to_revision=1))
    assert plan.desired.version == "v2.0.0" and plan.changes[-1] == "revision 3 -> 1 (becomes revision 4)"
    skipped = sim.strategy.plan(dataclasses.replace(sim.target, to_revision=3))
    assert skipped.skipped == "already at revision 3" and not skipped.operations
    with pytest.raises(RollbackError, match="revision 9 not found .*available: 1, 2, 3"):
        sim.strategy.plan(dataclasses.replace(sim.target, to_revision=9))


def test_apply_and_wait_roll_back_one_pod_at_a_time_then_verify(sim):
    plan, seen = run(sim, sim.target)
    assert seen[-1].done and seen[-1].message == "rolled out: 3/3 pods updated, 3/3 ready"
    messages = [p.message for p in seen]
    assert any(m.startswith("2/3 pods updated") for m in messages), messages
    assert set(sim.pods().values()) == {IMAGE + "v2.0.1"}
    history = sim.strategy.history(sim.target)
    assert [(r.number, r.version) for r in history] == [(1, "v2.0.0"), (3, "v2.0.2"), (4, "v2.0.1")]
    assert sim.strategy.is_applied(plan)
    verification = sim.strategy.verify(plan)
    assert verification.ok, verification.checks
    assert {c.name for c in verification.checks} == {"image", "replicas", "pods", "endpoints"}
    again = sim.strategy.plan(dataclasses.replace(sim.target, to_revision=4))
    assert again.skipped == "already at revision 4"


def test_a_concurrent_edit_is_refused_and_nothing_changes(sim):
    plan = sim.strategy.plan(sim.target)
    sim.set_image("v2.0.5")
    with pytest.raises(
        ConcurrentChange, match=r"changed after this plan was made .*image registry.local/orders-db:v2.0.5"
    ):
        sim.strategy.apply(plan)
    assert sim.sts()["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE + "v2.0.5"


def test_a_crash_looping_revision_fails_the_wait_with_what_to_do(sim):
    sim.set_image("v2.0.3-crashloop")
    with pytest.raises(RollbackError) as failed:
        sim.strategy.wait(sim.target, lambda p: None, 600)
    text = str(failed.value)
    assert "pod orders-db-2 of the new revision does not start (CrashLoopBackOff" in text
    assert "kubectl logs orders-db-2 -n orders --previous" in text
    # the rollback plan warns that the broken pod must be deleted by hand (forced rollback)
    plan = sim.strategy.plan(sim.target)
    assert plan.desired.version == "v2.0.2"
    assert any(
        "pod orders-db-2 is not ready (CrashLoopBackOff" in w and "kubectl delete pod" in w for w in plan.warnings
    )


def test_ondelete_is_refused_at_plan_time(sim):
    sim.apps.patch_namespaced_stateful_set(
        "orders-db", "orders", {"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}}
    )
    with pytest.raises(RollbackError, match="OnDelete update strategy.*Switch it to RollingUpdate"):
        sim.strategy.plan(sim.target)


def test_scale_to_zero_removes_every_pod(sim):
    sim.strategy.scale(sim.target, 0)
    sim.strategy.wait(sim.target, lambda p: None, 600)
    assert sim.sts()["spec"]["replicas"] == 0 and sim.pods() == {}


def test_missing_statefulset_is_explained(sim):
    with pytest.raises(RollbackError, match="statefulset orders/nope not found; nothing was changed. Check"):
        sim.strategy.plan(with_workload(sim.target, "nope"))


def test_the_plan_pins_the_controller_revision_it_restores(sim):
    confirmed = planned(sim.strategy, sim.target)
    assert confirmed.desired.name and confirmed.target_print["images"] == {"db": confirmed.desired.image}
    assert planned(sim.strategy, sim.target).target_print == confirmed.target_print, "nothing changed: no alarm"
    other = planned(sim.strategy, dataclasses.replace(sim.target, to_revision=1))
    assert target_change(confirmed, other).startswith(f"rev {confirmed.desired.number} ({confirmed.desired.name})")
