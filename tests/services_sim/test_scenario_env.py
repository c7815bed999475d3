"""A scenario's releases carry env, and an image may behave as its env flags it."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.scenario import load_scenario

SCENARIO = Path(__file__).parents[1] / "scenarios" / "feature_flag.yaml"
IMAGE = "registry.local/shopping-service:v1.2.5"


def test_a_flag_in_the_env_changes_how_the_image_behaves():
    scenario = load_scenario(SCENARIO)
    on = {"name": "app", "image": IMAGE, "env": [{"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": "true"}]}
    off = {"name": "app", "image": IMAGE, "env": [{"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": "false"}]}
    assert scenario.container_behaviour({}, on).error_rate == 0.30
    assert scenario.container_behaviour({}, off).error_rate == 0.005
    assert scenario.behaviour(IMAGE).error_rate == 0.005, "no env: the image's own behaviour"


def test_a_release_env_becomes_the_container_env_with_secrets_as_references():
    rev = load_scenario(SCENARIO).service("shopping-service").revisions[0]
    assert rev.container_env() == [
        {"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": "false"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db-v1", "key": "password"}}},
    ]


def test_a_pod_behaves_as_the_configmap_it_started_with_until_it_is_restarted():
    """pricing reads PRICE_SOURCE from its ConfigMap: changing the ConfigMap alone changes nothing (a kubelet
    reads env once); after the restart the new pods run with the bad value and answer 5xx."""
    from bot.sandbox.clock import SimClock
    from bot.sandbox.k8s import Cluster

    scenario = load_scenario()
    cluster = Cluster(scenario, SimClock(1.0))
    svc = scenario.service("pricing")

    def rates() -> set[float]:
        pods = cluster.list("pods", "pricing")
        return {scenario.container_behaviour(p, p["spec"]["containers"][0]).error_rate for p in pods}

    assert rates() == {0.004}
    cluster.patch("configmaps", "pricing", "pricing-config", {"data": svc.config_change["data"]}, "kubectl-edit")
    assert rates() == {0.004}, "a ConfigMap change reaches no running pod"
    restart = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}}
    cluster.patch("deployments", "pricing", "pricing", restart, "kubectl-rollout")
    start = cluster.clock.now()
    for second in range(120):  # let the rollout run its course in simulated time, as the seeding does
        cluster._frozen = start + second
        cluster.tick()
    assert rates() == {0.45}
    pod = cluster.list("pods", "pricing")[0]
    assert "sandbox-token" not in str(pod), "no Secret value is copied into a pod"
    cm = cluster.get("configmaps", "pricing", "pricing-config")
    assert [m["manager"] for m in cm["metadata"]["managedFields"]] == ["kubectl-client-side-apply", "kubectl-edit"]
