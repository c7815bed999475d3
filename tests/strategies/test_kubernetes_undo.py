"""KubernetesUndo against the Kubernetes API simulator, cross-checked with the real kubectl."""

from __future__ import annotations

import dataclasses

import pytest
from kubernetes import client

from bot.providers.kubernetes.locator import with_workload
from bot.strategies.base import ConcurrentChange, Progress, RollbackError

IMAGE = "registry.local/shopping-service:"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"


def kubectl_history(sim) -> dict[int, str]:
    """``kubectl rollout history`` as {revision: change-cause}."""
    rows = {}
    for line in sim.kubectl("rollout", "history", "deployment/shopping-service").splitlines():
        number, _, cause = line.strip().partition(" ")
        if number.isdigit():
            rows[int(number)] = cause.strip()
    return rows


def run(sim, target, deadline: float = 600) -> tuple[object, list[Progress]]:
    """Plan, apply, wait: the worker's steps."""
    seen: list[Progress] = []
    plan = sim.strategy.plan(target)
    sim.strategy.apply(plan)
    sim.strategy.wait(target, seen.append, deadline)
    return plan, seen


def test_history_matches_kubectl(sim):
    history = sim.strategy.history(sim.target)
    assert [(r.number, r.version) for r in history] == [(1, "v1.2.3"), (2, "v1.2.4"), (3, "v1.2.5")]
    assert {r.number: r.change_cause for r in history} == kubectl_history(sim)


def test_undo_to_previous_makes_v124_live_as_revision_4(sim):
    plan, seen = run(sim, sim.target)

    assert (plan.current.number, plan.desired.number, plan.skipped) == (3, 2, None)
    assert plan.changes == (
        f"image app: {IMAGE}v1.2.5 -> {IMAGE}v1.2.4",
        "revision 3 -> 2 (becomes revision 4)",
    )
    dep = sim.deployment()
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE + "v1.2.4"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    history = sim.strategy.history(sim.target)
    assert [(r.number, r.version) for r in history] == [(1, "v1.2.3"), (3, "v1.2.5"), (4, "v1.2.4")]
    rs = next(r for r in history if r.number == 4)
    rs_obj = sim.api.sanitize_for_serialization(sim.apps.read_namespaced_replica_set(rs.name, "shopping"))
    assert rs_obj["metadata"]["annotations"][REVISION_HISTORY] == "2"
    assert kubectl_history(sim) == {r.number: r.change_cause for r in history}
    assert f"{IMAGE}v1.2.4" in sim.kubectl(
        "rollout", "history", "deployment/shopping-service", "--revision=4"
    )
    # the user saw the rollout progress, ending with all new replicas available
    messages = [p.message for p in seen]
    assert any("new replicas available" in m for m in messages[:-1])
    assert seen[-1].done and seen[-1].message == "rolled out: 3/3 new replicas available"
    verification = sim.strategy.verify(plan)
    assert verification.ok, verification.checks
    assert {c.name for c in verification.checks} == {"image", "replicas", "pods", "endpoints"}


def test_to_revision_rolls_back_to_that_revision(sim):
    plan, _ = run(sim, dataclasses.replace(sim.target, to_revision=1))
    assert plan.changes[-1] == "revision 3 -> 1 (becomes revision 4)"
    assert [(r.number, r.version) for r in sim.strategy.history(sim.target)] == [
        (2, "v1.2.4"),
        (3, "v1.2.5"),
        (4, "v1.2.3"),
    ]
    assert kubectl_history(sim)[4] == "deploy v1.2.3: checkout redesign"


def test_rolling_back_to_the_live_revision_is_skipped_and_changes_nothing(sim):
    before = sim.deployment()["metadata"]["resourceVersion"]
    plan, seen = run(sim, dataclasses.replace(sim.target, to_revision=3))
    assert plan.skipped == "already at revision 3"
    assert plan.operations == ()
    assert seen[-1].done and seen[-1].message == "rolled out: 3/3 new replicas available"
    assert sim.deployment()["metadata"]["resourceVersion"] == before


def test_unknown_revision_and_missing_deployment_are_explained(sim):
    with pytest.raises(RollbackError) as err:
        sim.strategy.plan(dataclasses.replace(sim.target, to_revision=7))
    assert str(err.value) == (
        "revision 7 not found in the rollout history of shopping/shopping-service; available: 1, 2, 3"
    )
    with pytest.raises(RollbackError, match="deployment shopping/cart-service not found"):
        sim.strategy.plan(with_workload(sim.target, "cart-service"))


def test_a_paused_deployment_is_refused(sim):
    sim.apps.patch_namespaced_deployment("shopping-service", "shopping", {"spec": {"paused": True}})
    with pytest.raises(RollbackError) as err:
        sim.strategy.plan(sim.target)
    assert str(err.value) == (
        "shopping/shopping-service is paused; resume it first "
        "(kubectl rollout resume deployment/shopping-service -n shopping)"
    )


def test_a_change_between_plan_and_apply_is_detected_and_nothing_is_rolled_back(sim):
    plan = sim.strategy.plan(sim.target)
    sim.kubectl("set", "image", "deployment/shopping-service", f"app={IMAGE}v1.2.6-crashloop")

    with pytest.raises(ConcurrentChange) as err:
        sim.strategy.apply(plan)

    assert "changed after this plan was made" in str(err.value)
    assert "plan the rollback again" in str(err.value)
    dep = sim.deployment()
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE + "v1.2.6-crashloop"
    assert all(r.version != "v1.2.4" or r.number == 2 for r in sim.strategy.history(sim.target))


def crashloop_in_history(sim, **spec) -> None:
    """Revision 4 is the crashlooping image; v1.2.5 is live again as revision 5."""
    sim.set_image("v1.2.6-crashloop", **spec)
    sim.until(lambda: sim.deployment()["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4")
    sim.set_image("v1.2.5")
    sim.settle()
    assert [r.version for r in sim.strategy.history(sim.target)][-2:] == ["v1.2.6-crashloop", "v1.2.5"]


def test_rolling_back_to_a_crashlooping_image_fails_at_the_progress_deadline(make_sim):
    sim = make_sim(scale=50)
    crashloop_in_history(sim, progressDeadlineSeconds=60)
    seen: list[Progress] = []
    plan = sim.strategy.plan(sim.target)
    assert plan.desired.version == "v1.2.6-crashloop"

    sim.strategy.apply(plan)
    with pytest.raises(RollbackError, match="exceeded its progress deadline") as err:
        sim.strategy.wait(sim.target, seen.append, 3600)

    assert "0/3 new replicas available" in str(err.value)
    assert seen and not seen[-1].done
    verification = sim.strategy.verify(plan)
    assert not verification.ok
    assert {c.name: c.ok for c in verification.checks}["pods"] is False


def test_our_own_deadline_stops_the_wait(make_sim):
    sim = make_sim(scale=50)
    crashloop_in_history(sim)  # the default 600 s progress deadline is far away
    sim.strategy.apply(sim.strategy.plan(sim.target))
    with pytest.raises(RollbackError, match="did not finish rolling out before the deadline"):
        sim.strategy.wait(sim.target, lambda p: None, 60)


def test_verify_without_a_service_cannot_check_endpoints_but_still_passes(sim):
    core = client.CoreV1Api(sim.api)
    for svc in core.list_namespaced_service("shopping").items:
        core.delete_namespaced_service(svc.metadata.name, "shopping")
    plan = sim.strategy.plan(dataclasses.replace(sim.target, to_revision=3))  # skipped: verify what is live
    checks = {c.name: c for c in sim.strategy.verify(plan).checks}
    assert checks["endpoints"].ok is None and checks["endpoints"].detail == "no Service selects these pods"
    assert checks["image"].ok and checks["replicas"].ok and checks["pods"].ok
    assert sim.strategy.verify(plan).ok
