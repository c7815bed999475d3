"""Blue-green and canary against the simulator, over real HTTP with the official client; real kubectl checks
what they changed."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.providers.kubernetes.blue_green.options import BlueGreen
from bot.providers.kubernetes.blue_green.strategy import BlueGreenSwitch
from bot.providers.kubernetes.canary.options import Canary
from bot.providers.kubernetes.canary.strategy import CanaryStepDown
from bot.providers.kubernetes.locator import k8s_target
from bot.strategies.base import RollbackError, Target
from bot.strategies.options import to_options

BG = BlueGreen(
    colours={"blue": "storefront-blue", "green": "storefront-green"},
    virtual_service="storefront",
    after_switch="scale_to_zero",
)
CANARY = Canary(stable="checkout-stable", canary="checkout-canary", virtual_service="checkout")


def bg_target(**options) -> Target:
    opts = to_options(dataclasses.replace(BG, **options))
    return k8s_target("storefront", "storefront", "storefront", "app", options=opts)


def canary_target(**options) -> Target:
    opts = to_options(dataclasses.replace(CANARY, **options))
    return k8s_target("checkout", "checkout", "checkout", "app", options=opts)


@pytest.fixture
def bg(sim) -> BlueGreenSwitch:
    return BlueGreenSwitch(sim.api, clock=sim.clock)


@pytest.fixture
def canary(sim) -> CanaryStepDown:
    return CanaryStepDown(sim.api, clock=sim.clock)


def kubectl_json(sim, namespace: str, *args: str) -> dict:
    return json.loads(sim.kubectl("-n", namespace, *args, "-o", "json"))


# ------------------------------------------------------------------------------ blue-green


def test_blue_green_history_lists_the_colours_live_last(bg):
    history = bg.history(bg_target())
    assert [(r.label, r.version, r.number) for r in history] == [("blue", "v2.0.1", 1), ("green", "v2.1.0", 2)]


def test_blue_green_plan_says_what_changes_and_changes_nothing(bg, sim):
    before = kubectl_json(sim, "storefront", "get", "svc/storefront")
    plan = bg.plan(bg_target())
    assert (plan.current.label, plan.desired.label) == ("green", "blue")
    assert plan.changes == (
        "scale storefront-blue from 0 to 3 replicas and wait until they are ready (no traffic is switched before)",
        "switch Service storefront selector version: green → blue",
        "switch VirtualService storefront route subset: green → blue",
        "once verified, scale storefront-green to 0 (after_switch: scale_to_zero)",
    )
    assert kubectl_json(sim, "storefront", "get", "svc/storefront") == before


def test_blue_green_switch_end_to_end(bg, sim):
    plan = bg.plan(bg_target())
    seen = []
    assert bg.prepare(plan, seen.append, 600) == "storefront-blue scaled from 0 to 3 replicas and ready"
    assert seen[-1].done and not bg.is_applied(plan)
    assert kubectl_json(sim, "storefront", "get", "svc/storefront")["spec"]["selector"]["version"] == "green"
    bg.apply(plan)
    bg.wait(plan.target, seen.append, 600)
    assert seen[-1].message == "traffic: 3/3 endpoints on blue"
    svc = kubectl_json(sim, "storefront", "get", "svc/storefront")
    vs = kubectl_json(sim, "storefront", "get", "virtualservice/storefront")
    assert svc["spec"]["selector"]["version"] == "blue"
    assert vs["spec"]["http"][0]["route"][0]["destination"]["subset"] == "blue"
    assert bg.is_applied(plan)
    verification = bg.verify(plan)
    assert verification.ok, verification.checks
    assert bg.after_switch(plan) == "storefront-green scaled to 0"
    assert kubectl_json(sim, "storefront", "get", "deploy/storefront-green")["spec"]["replicas"] == 0


def test_blue_green_refuses_a_concurrent_edit_of_the_service(bg, sim):
    plan = bg.plan(bg_target())
    sim.kubectl("-n", "storefront", "label", "svc/storefront", "touched=yes")
    with pytest.raises(RollbackError, match="changed after this plan was made"):
        bg.apply(plan)
    assert kubectl_json(sim, "storefront", "get", "svc/storefront")["spec"]["selector"]["version"] == "green"


def test_blue_green_without_the_idle_colour_is_refused(bg, sim):
    sim.kubectl("-n", "storefront", "delete", "deploy/storefront-blue")
    with pytest.raises(RollbackError, match="storefront-blue does not exist; nothing was changed"):
        bg.plan(bg_target())


def test_blue_green_when_both_colours_run_the_same_image_is_refused(bg, sim):
    sim.kubectl("-n", "storefront", "set", "image", "deploy/storefront-blue", "app=registry.local/storefront:v2.1.0")
    with pytest.raises(RollbackError, match="both colours run registry.local/storefront:v2.1.0"):
        bg.plan(bg_target())


def test_a_selector_on_no_colour_is_explained(bg, sim):
    sim.kubectl("-n", "storefront", "patch", "svc/storefront", "-p", '{"spec":{"selector":{"version":"red"}}}')
    with pytest.raises(RollbackError, match="selects version=red, which is none of the catalog's colours"):
        bg.plan(bg_target())


# ---------------------------------------------------------------------------------- canary


def test_canary_plan_steps_down_from_the_live_weight(canary, sim):
    plan = canary.plan(canary_target())
    assert (plan.current.label, plan.desired.label) == ("canary", "stable")
    assert plan.changes[0] == (
        "step the canary's share of traffic down: 80% → 75% → 50% → 25% → 10% → 0% (VirtualService checkout weights)"
    )
    assert canary.weight(plan.target) == 80


def test_canary_weights_move_and_kubectl_sees_them(canary, sim):
    t = canary_target()
    for weight in (50, 0):
        canary.set_weight(t, weight)
        vs = kubectl_json(sim, "checkout", "get", "virtualservice/checkout")
        assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [100 - weight, weight]
    plan = canary.plan(t)
    assert plan.skipped == "the canary already gets no traffic"
    assert canary.remove_canary(dataclasses.replace(plan, target=t), verified=True) == "checkout-canary scaled to 0"
    assert kubectl_json(sim, "checkout", "get", "deploy/checkout-canary")["spec"]["replicas"] == 0


def test_canary_without_a_virtual_service_moves_replicas(canary, sim):
    t = canary_target(virtual_service="")
    assert canary.weight(t) == 50  # two replicas each
    canary.set_weight(t, 25)
    canary.settle(t, lambda p: None, 600)
    stable = kubectl_json(sim, "checkout", "get", "deploy/checkout-stable")["spec"]["replicas"]
    canary_n = kubectl_json(sim, "checkout", "get", "deploy/checkout-canary")["spec"]["replicas"]
    assert (stable, canary_n) == (3, 1)
    assert canary.weight(t) == 25


def test_stepping_the_canary_up_is_refused(canary):
    with pytest.raises(RollbackError, match="a release, not a rollback"):
        canary.plan(dataclasses.replace(canary_target(), to_revision=2))


# ------------------------------------------------------------------------------ GitOps on traffic objects


def test_traffic_objects_under_gitops_are_warned_about_and_found_for_the_suspend_step(bg, canary, sim):
    """A Service or VirtualService that Argo CD or Flux applies would be switched back on its next sync."""
    assert bg.sync_owner(bg_target()) is None and not bg.plan(bg_target()).warnings
    sim.kubectl("-n", "storefront", "label", "svc/storefront", "argocd.argoproj.io/instance=storefront")
    owner = bg.sync_owner(bg_target())
    assert owner is not None and owner.title == "Argo CD Application argocd/storefront"
    assert "managed by GitOps (Argo CD Application argocd/storefront)" in bg.plan(bg_target()).warnings[0]

    sim.kubectl(
        "-n",
        "checkout",
        "label",
        "virtualservices.networking.istio.io/checkout",
        "kustomize.toolkit.fluxcd.io/name=mesh",
        "kustomize.toolkit.fluxcd.io/namespace=flux-system",
    )
    assert canary.sync_owner(canary_target()).title == "Flux Kustomization flux-system/mesh"
    assert "suspend it (spec.suspend: true)" in canary.plan(canary_target()).warnings[0]
