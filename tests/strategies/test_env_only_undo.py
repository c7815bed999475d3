"""The env-only rollback and the restored ConfigMaps against the Kubernetes API simulator, with the real
python client and the real kubectl."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from kubernetes import client

from bot.strategies.base import ConcurrentChange

SCENARIO = Path(__file__).parents[1] / "scenarios" / "feature_flag.yaml"
IMAGE = "registry.local/shopping-service:"


@pytest.fixture
def flags(make_sim):
    """shopping-service: revision 1 v1.2.4 with the flag off, revision 2 v1.2.5 with it on (live)."""
    return make_sim(scenario=SCENARIO)


def env(sim) -> dict[str, object]:
    ctr = sim.deployment()["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in ctr.get("env") or []}


def test_the_plain_undo_lists_the_env_and_offers_the_env_only_plan(flags):
    plan = flags.strategy.plan(flags.target)
    assert plan.env_only_offer
    assert 'env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"' in plan.changes
    assert "env DB_PASSWORD: from Secret shop-db-v2 key password → from Secret shop-db-v1 key password" in plan.changes


def test_env_only_reverts_the_flag_and_keeps_the_image_as_a_new_revision(flags):
    target = dataclasses.replace(flags.target, env_only=True)
    plan = flags.strategy.plan(target)
    assert plan.changes == (
        'env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"',
        "env DB_PASSWORD: from Secret shop-db-v2 key password → from Secret shop-db-v1 key password",
        f"image app stays {IMAGE}v1.2.5",
        "revision 2 -> env of revision 1 (becomes revision 3)",
    )
    assert (plan.desired.number, plan.desired.image) == (1, f"{IMAGE}v1.2.5")
    assert not flags.strategy.is_applied(plan)

    flags.strategy.apply(plan)
    flags.settle()

    dep = flags.deployment()
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}v1.2.5"
    assert env(flags)["FEATURE_FLAG_NEW_CHECKOUT"] == "false"
    assert env(flags)["DB_PASSWORD"] == {"secretKeyRef": {"name": "shop-db-v1", "key": "password"}}
    history = flags.kubectl("rollout", "history", "deployment/shopping-service")
    cause = "rollback-bot: env of revision 1 restored (FEATURE_FLAG_NEW_CHECKOUT, DB_PASSWORD); image kept"
    assert f"3         {cause}" in history, history
    assert "FEATURE_FLAG_NEW_CHECKOUT:\tfalse" in flags.kubectl(
        "rollout", "history", "deployment/shopping-service", "--revision=3"
    )
    assert flags.strategy.is_applied(plan), "a resumed run must not send it twice"
    assert all(c.ok for c in flags.strategy.verify(plan).checks if c.name in ("image", "replicas", "pods"))
    again = flags.strategy.plan(dataclasses.replace(target, to_revision=plan.desired.number))
    assert again.skipped == "the env is already as in revision 1"


def test_env_only_plan_is_refused_when_the_deployment_moved(flags):
    plan = flags.strategy.plan(dataclasses.replace(flags.target, env_only=True))
    flags.set_image("v1.2.6")
    with pytest.raises(ConcurrentChange):
        flags.strategy.apply(plan)
    assert env(flags)["FEATURE_FLAG_NEW_CHECKOUT"] == "true"


def _use_config(sim, name: str) -> None:
    ctr = {"name": "app", "envFrom": [{"configMapRef": {"name": name}}]}
    body = {"spec": {"template": {"spec": {"containers": [ctr]}}}}
    sim.apps.patch_namespaced_deployment("shopping-service", "shopping", body)
    sim.settle()


def test_the_undo_names_the_hash_named_configmap_and_warns_when_it_is_gone(sim):
    core = client.CoreV1Api(sim.api)
    for name in ("shop-config-7f9c2b", "shop-config-5d1e8a"):
        core.create_namespaced_config_map("shopping", {"metadata": {"name": name}, "data": {"checkout": name}})
    _use_config(sim, "shop-config-7f9c2b")
    _use_config(sim, "shop-config-5d1e8a")

    plan = sim.strategy.plan(sim.target)
    line = (
        "ConfigMap shop-config-5d1e8a → shop-config-7f9c2b (hash-named, as kustomize's configMapGenerator makes it): "
        "the undo restores the previous config with the pods; it must still exist "
        "(`kubectl get configmap shop-config-7f9c2b -n shopping`)"
    )
    assert line in plan.changes and not plan.warnings

    sim.kubectl("delete", "configmap", "shop-config-7f9c2b")
    warnings = sim.strategy.plan(sim.target).warnings
    assert any(w.startswith("ConfigMap shop-config-7f9c2b no longer exists in namespace shopping") for w in warnings)
