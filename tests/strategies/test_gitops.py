"""GitOps awareness: ``detect`` on each marker (pure), then suspend and resume against the simulator's
Argo CD and Flux over HTTP with the real python client; the self-heal loop shows what suspending prevents."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.providers.kubernetes.deployment.strategy import KubernetesUndo
from bot.providers.kubernetes.gitops import GitOpsOwner, detect, resume, suspend
from bot.providers.kubernetes.locator import k8s_target
from bot.strategies.base import RollbackError
from tests.k8s_world import NS, World, served_world

V1, V2 = "registry.local/checkout:v1", "registry.local/checkout:v2"


def workload(labels: dict | None = None, annotations: dict | None = None) -> dict:
    return {"metadata": {"name": "checkout", "namespace": NS, "labels": labels or {}, "annotations": annotations or {}}}


@pytest.mark.parametrize(
    ("meta", "kind", "name", "namespace"),
    [
        ({"labels": {"argocd.argoproj.io/instance": "checkout"}}, "argocd", "checkout", "argocd"),
        (
            {"annotations": {"argocd.argoproj.io/tracking-id": "shop-apps:apps/Deployment:shop/checkout"}},
            "argocd",
            "shop-apps",
            "argocd",
        ),
        (
            {"annotations": {"argocd.argoproj.io/tracking-id": "team-a_checkout:apps/Deployment:shop/checkout"}},
            "argocd",
            "checkout",
            "team-a",
        ),
        (
            {"labels": {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux"}},
            "flux-kustomize",
            "apps",
            "flux",
        ),
        (
            {"labels": {"helm.toolkit.fluxcd.io/name": "checkout", "helm.toolkit.fluxcd.io/namespace": "shop"}},
            "flux-helm",
            "checkout",
            "shop",
        ),
    ],
)
def test_detect_each_marker(meta, kind, name, namespace):
    owner = detect(workload(**meta))
    assert owner is not None and (owner.kind, owner.name, owner.namespace) == (kind, name, namespace)
    assert "would undo this rollback" in owner.warning and "reversible" in owner.warning
    assert f"{owner.namespace}/{owner.name}" in owner.warning


def test_detect_warning_says_what_the_run_will_do():
    argo = detect(workload({"argocd.argoproj.io/instance": "checkout"}))
    assert "Argo CD Application argocd/checkout" in argo.warning and "remove its automated sync" in argo.warning
    flux = detect(workload({"kustomize.toolkit.fluxcd.io/name": "a", "kustomize.toolkit.fluxcd.io/namespace": "b"}))
    assert "Flux Kustomization b/a" in flux.warning and "spec.suspend: true" in flux.warning


def test_detect_nothing_without_a_marker():
    assert detect(workload({"app": "checkout", "app.kubernetes.io/managed-by": "Helm"})) is None
    assert detect(workload({"kustomize.toolkit.fluxcd.io/name": "half"})) is None
    assert detect({"metadata": {}}) is None


@pytest.fixture
def world(tmp_path: Path):
    with served_world(tmp_path, request_timeout=2.0) as w:
        yield w


def owner_of(world: World, name: str) -> GitOpsOwner:
    owner = detect(world.deployment(name))
    assert owner is not None
    return owner


def application(world: World) -> dict:
    return world.cluster.get("applications", "argocd", "checkout")


def test_without_suspend_argocd_reverts_the_rollback(world):
    world.set_image("checkout", V1)
    world.until(lambda: world.image("checkout") == V2)
    assert application(world)["status"]["history"]


def test_suspend_keeps_the_rollback_and_resume_restores_the_policy(world):
    owner = owner_of(world, "checkout")
    before = application(world)["spec"]["syncPolicy"]
    saved = suspend(world.api, owner)
    assert saved == {"automated": {"prune": True, "selfHeal": True}}
    assert "automated" not in application(world)["spec"]["syncPolicy"]
    world.set_image("checkout", V1)
    world.until(lambda: application(world)["status"]["sync"]["status"] == "OutOfSync")  # the loop looked
    assert world.image("checkout") == V1
    assert suspend(world.api, owner) == {"automated": None}  # a resumed run: already off, nothing to undo later
    resume(world.api, owner, saved)
    assert application(world)["spec"]["syncPolicy"] == before
    world.until(lambda: world.image("checkout") == V2)  # Git still says v2: why the warning says commit first


def test_flux_suspend_and_resume(world):
    owner = owner_of(world, "cart")
    assert owner.kind == "flux-kustomize" and (owner.namespace, owner.name) == ("flux-system", "cart")
    saved = suspend(world.api, owner)
    assert saved == {"suspend": None}

    def kustomization() -> dict:
        return world.cluster.get("kustomizations", "flux-system", "cart")

    assert kustomization()["spec"]["suspend"] is True
    world.set_image("cart", "registry.local/cart:v1")
    revision, patched_at = kustomization()["status"]["lastAppliedRevision"], world.clock.now()
    world.until(lambda: world.cluster.self_heal.last > patched_at)  # the loop has looked since the patch
    assert world.image("cart") == "registry.local/cart:v1"
    assert kustomization()["status"]["lastAppliedRevision"] == revision
    resume(world.api, owner, saved)
    assert "suspend" not in kustomization()["spec"]
    world.until(lambda: world.image("cart") == "registry.local/cart:v2")


def test_a_forbidden_patch_names_the_rbac_verb(world):
    world.cluster.faults.add(403, verb="patch", resource="applications")
    with pytest.raises(RollbackError) as refused:
        suspend(world.api, owner_of(world, "checkout"))
    text = str(refused.value)
    assert "not allowed to patch applications in namespace argocd" in text and 'API group "argoproj.io"' in text
    assert "sync was not suspended, so the rollback was not started" in text
    assert "kubectl auth can-i patch applications.argoproj.io -n argocd" in text


def test_a_missing_application_is_said_to_be_gone(world):
    owner = GitOpsOwner("argocd", "deleted-app", "argocd", "")
    with pytest.raises(RollbackError, match=r"Argo CD Application argocd/deleted-app is gone \(404 Not Found\)"):
        suspend(world.api, owner)
    with pytest.raises(RollbackError, match="sync of the Argo CD Application argocd/deleted-app is still off"):
        resume(world.api, owner, {"automated": {"selfHeal": True}})


def test_a_failed_resume_says_how_to_turn_sync_on_by_hand(world):
    owner = owner_of(world, "checkout")
    saved = suspend(world.api, owner)
    world.cluster.faults.add(403, verb="patch", resource="applications")
    with pytest.raises(RollbackError) as refused:
        resume(world.api, owner, saved)
    assert "is still off" in str(refused.value)


def test_the_plan_warns_about_a_gitops_managed_deployment(world):
    undo = KubernetesUndo(world.client, clock=world.clock, request_timeout=2.0)
    managed = undo.plan(k8s_target("checkout", NS, "checkout", "app"))
    assert any("Argo CD Application argocd/checkout" in w for w in managed.warnings)
    assert any(
        "Flux Kustomization flux-system/cart" in w for w in undo.plan(k8s_target("cart", NS, "cart", "app")).warnings
    )
