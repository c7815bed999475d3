"""Argo CD and Flux in the simulator: the seeded Application and Kustomization, and a self-heal loop that
really reverts a patched Deployment while sync is on, and only then."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kubernetes import client

from bot.providers.kubernetes import gitops
from bot.sandbox.clock import SimClock
from bot.sandbox.k8s import Cluster
from bot.sandbox.k8s.gitops import DESIRED, INTERVAL
from bot.sandbox.k8s.resources import BY_PLURAL
from bot.sandbox.k8s.writes import patch
from bot.sandbox.scenario import load_scenario
from tests.k8s_world import NS, SCENARIO, World, served_world

V1, V2, V3 = (f"registry.local/checkout:{v}" for v in ("v1", "v2", "v3"))
MERGE = "application/merge-patch+json"


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(load_scenario(SCENARIO), SimClock(1.0))


def image(cluster: Cluster, name: str) -> str:
    return cluster.get("deployments", NS, name)["spec"]["template"]["spec"]["containers"][0]["image"]


def set_image(cluster: Cluster, name: str, value: str) -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": value}]}}}}
    with cluster.store.lock:
        patch(
            cluster,
            BY_PLURAL["deployments"],
            NS,
            name,
            "application/strategic-merge-patch+json",
            json.dumps(body).encode(),
            None,
        )


def test_seeding_marks_the_deployments_and_records_git(cluster):
    checkout, cart = cluster.get("deployments", NS, "checkout"), cluster.get("deployments", NS, "cart")
    assert checkout["metadata"]["labels"]["argocd.argoproj.io/instance"] == "checkout"
    assert cart["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "cart"
    assert cart["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"] == "flux-system"
    assert "argocd.argoproj.io/instance" not in checkout["spec"]["template"]["metadata"]["labels"]
    app = cluster.get("applications", "argocd", "checkout")
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    desired = json.loads(app["metadata"]["annotations"][DESIRED])
    assert desired[f"{NS}/checkout"]["spec"]["containers"][0]["image"] == V2
    assert cluster.get("kustomizations", "flux-system", "cart")["spec"].get("suspend") is None
    assert "argocd.argoproj.io/instance" not in cluster.get("deployments", NS, "plain")["metadata"]["labels"]


def test_self_heal_reverts_at_the_next_sync_interval(cluster):
    cluster.clock.advance(INTERVAL)
    cluster.tick()
    set_image(cluster, "checkout", V1)
    generation = cluster.get("deployments", NS, "checkout")["metadata"]["generation"]
    assert image(cluster, "checkout") == V1  # not before the interval
    cluster.clock.advance(INTERVAL)
    cluster.tick()
    healed = cluster.get("deployments", NS, "checkout")
    assert image(cluster, "checkout") == V2 and healed["metadata"]["generation"] == generation + 1
    app = cluster.get("applications", "argocd", "checkout")
    assert app["status"]["sync"]["status"] == "Synced" and app["status"]["history"][-1]["revision"]
    assert app["status"]["operationState"]["phase"] == "Succeeded"


def test_no_revert_while_sync_is_off_and_git_can_be_updated(cluster):
    app_res, ks_res = BY_PLURAL["applications"], BY_PLURAL["kustomizations"]
    with cluster.store.lock:
        patch(cluster, app_res, "argocd", "checkout", MERGE, b'{"spec":{"syncPolicy":{"automated":null}}}', None)
        patch(cluster, ks_res, "flux-system", "cart", MERGE, b'{"spec":{"suspend":true}}', None)
    set_image(cluster, "checkout", V1)
    set_image(cluster, "cart", "registry.local/cart:v1")
    for _ in range(3):
        cluster.clock.advance(INTERVAL)
        cluster.tick()
    assert image(cluster, "checkout") == V1 and image(cluster, "cart") == "registry.local/cart:v1"
    assert cluster.get("applications", "argocd", "checkout")["status"]["sync"]["status"] == "OutOfSync"
    # "commit" v3 to Git and turn sync back on: Argo CD applies what Git says now
    app = cluster.get("applications", "argocd", "checkout")
    desired = json.loads(app["metadata"]["annotations"][DESIRED])
    desired[f"{NS}/checkout"]["spec"]["containers"][0]["image"] = V3
    body = {
        "metadata": {"annotations": {DESIRED: json.dumps(desired)}},
        "spec": {"syncPolicy": {"automated": {"selfHeal": True}}},
    }
    with cluster.store.lock:
        patch(cluster, app_res, "argocd", "checkout", MERGE, json.dumps(body).encode(), None)
    cluster.clock.advance(INTERVAL)
    cluster.tick()
    assert image(cluster, "checkout") == V3


@pytest.fixture
def world(tmp_path: Path):
    with served_world(tmp_path) as w:
        yield w


@pytest.mark.kubectl
def test_kubectl_lists_applications_and_kustomizations(world: World):
    apps = world.kubectl("get", "applications.argoproj.io", "-n", "argocd")
    assert re.search(r"^NAME\s+SYNC STATUS\s+HEALTH STATUS\s*$", apps, re.M), apps
    assert re.search(r"^checkout\s+Synced\s+Healthy\s*$", apps, re.M), apps
    assert "checkout" in world.kubectl("get", "app", "-n", "argocd", "-o", "name")
    ks = world.kubectl("get", "kustomizations", "-n", "flux-system")
    assert re.search(r"^NAME\s+AGE\s+READY\s+STATUS", ks, re.M), ks
    assert re.search(r"^cart\s+\S+\s+True\s+Applied revision: main@sha1:[0-9a-f]{40}", ks, re.M), ks
    assert "cart" in world.kubectl("get", "ks", "-A")


@pytest.mark.kubectl
def test_kubectl_set_image_is_reverted_by_argocd_and_kept_once_suspended(world: World):
    world.kubectl("set", "image", "deployment/checkout", f"app={V1}")
    world.until(lambda: world.image("checkout") == V2)  # Argo CD's self-heal put Git's version back
    world.kubectl("rollout", "status", "deployment/checkout", "--timeout", "30s")
    world.kubectl(
        "patch",
        "app",
        "checkout",
        "-n",
        "argocd",
        "--type",
        "merge",
        "-p",
        '{"spec":{"syncPolicy":{"automated":null}}}',
    )
    world.kubectl("set", "image", "deployment/checkout", f"app={V1}")
    app = client.CustomObjectsApi(world.client)

    def out_of_sync() -> bool:
        got = app.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "checkout")
        return got["status"]["sync"]["status"] == "OutOfSync"

    world.until(out_of_sync)  # the loop looked at it, and left it alone
    assert world.image("checkout") == V1


HELM_SCENARIO = """
services:
  - name: search
    namespace: shop
    replicas: 1
    gitops: flux-helm
    revisions:
      - image: registry.local/search:v1
      - image: registry.local/search:v2
"""


@pytest.mark.kubectl
def test_a_flux_helm_release_reverts_drift_until_the_bot_suspends_it(tmp_path: Path):
    """helm-controller with drift detection puts a patched Deployment back; once the bot's suspend step has set
    ``spec.suspend: true`` the rollback stands, and ``kubectl get helmreleases`` shows it like Flux's CRD."""
    (tmp_path / "helm.yaml").write_text(HELM_SCENARIO)
    with served_world(tmp_path, scenario=tmp_path / "helm.yaml") as world:
        table = world.kubectl("get", "helmreleases.helm.toolkit.fluxcd.io", "-n", "flux-system")
        assert re.search(r"^NAME\s+AGE\s+READY\s+STATUS", table, re.M), table
        assert re.search(r"^search\s+\S+\s+True\s+Applied revision", table, re.M), table
        owner = gitops.detect(world.deployment("search"))
        assert owner is not None and owner.title == "Flux HelmRelease flux-system/search"

        world.set_image("search", "registry.local/search:v1")
        world.until(lambda: world.image("search") == "registry.local/search:v2")  # drift corrected

        saved = gitops.suspend(world.api, owner)
        assert world.cluster.get("helmreleases", "flux-system", "search")["spec"]["suspend"] is True
        world.set_image("search", "registry.local/search:v1")
        world.clock.sleep(3 * INTERVAL)
        assert world.image("search") == "registry.local/search:v1"

        gitops.resume(world.api, owner, saved)
        assert "suspend" not in world.cluster.get("helmreleases", "flux-system", "search")["spec"]
        world.until(lambda: world.image("search") == "registry.local/search:v2")  # Git still says v2
