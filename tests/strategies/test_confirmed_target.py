"""What a plan moves to is pinned when the plan is made (``planned``: each strategy's ``target_print``) and
compared by the run's pre-checks (``target_change``): against the simulator over HTTP, changed with real kubectl."""

from __future__ import annotations

import dataclasses

from bot.providers.kubernetes.blue_green.strategy import BlueGreenSwitch
from bot.providers.kubernetes.canary.strategy import CanaryStepDown
from bot.providers.kubernetes.locator import k8s_target
from bot.steps.rollout import target_change
from bot.strategies.base import Plan, Revision, planned
from tests.strategies.test_traffic_strategies import bg_target, canary_target

SHOP = "registry.local/shopping-service:"


def test_a_revision_whose_replicaset_was_edited_is_no_longer_what_was_confirmed(sim):
    confirmed = planned(sim.strategy, sim.target)
    assert confirmed.target_print["images"] == {"app": SHOP + "v1.2.4"}
    assert planned(sim.strategy, sim.target).target_print == confirmed.target_print, "nothing changed: no alarm"

    sim.kubectl("set", "env", f"replicaset/{confirmed.desired.name}", "DEBUG=1")
    fresh = planned(sim.strategy, sim.target)
    assert fresh.target_print["images"] == confirmed.target_print["images"]
    changed = target_change(confirmed, fresh)
    assert changed.startswith(f"rev 2 ({confirmed.desired.name}), what the rollback moves to, changed after")
    assert "its pod template is not the one confirmed (env, resources or another field; " in changed
    assert changed.endswith(f"the image is still {SHOP}v1.2.4)")

    sim.kubectl("set", "image", f"replicaset/{confirmed.desired.name}", f"app={SHOP}v1.2.6-crashloop")
    changed = target_change(confirmed, planned(sim.strategy, sim.target))
    assert f"image app: {SHOP}v1.2.4 → {SHOP}v1.2.6-crashloop" in changed


def test_the_pin_ignores_the_pod_template_hash_and_what_a_rollout_does_to_the_replicaset(sim):
    confirmed = planned(sim.strategy, sim.target)
    sim.strategy.apply(confirmed)  # the revision's ReplicaSet becomes the live one, with a new revision number
    sim.settle()
    assert sim.strategy.target_print(confirmed) == confirmed.target_print


def test_blue_green_pins_the_idle_colour_and_scaling_it_up_is_no_change(sim):
    bg = BlueGreenSwitch(sim.api, clock=sim.clock)
    confirmed = planned(bg, bg_target())
    assert confirmed.target_print["images"] == {"app": "registry.local/storefront:v2.0.1"}
    sim.kubectl("-n", "storefront", "scale", "deployment/storefront-blue", "--replicas=3")  # what *prepare* does
    assert target_change(confirmed, planned(bg, bg_target())) == ""

    sim.kubectl("-n", "storefront", "set", "env", "deployment/storefront-blue", "FEATURE_X=on")
    changed = target_change(confirmed, planned(bg, bg_target()))
    assert changed.startswith("blue (storefront-blue), what the rollback moves to, changed after the plan was")
    assert "pod template is not the one confirmed" in changed


def test_canary_pins_the_stable(sim):
    canary = CanaryStepDown(sim.api, clock=sim.clock)
    confirmed = planned(canary, canary_target())
    assert confirmed.target_print["images"] == {"app": "registry.local/checkout:v3.4.0"}
    sim.kubectl("-n", "checkout", "set", "image", "deployment/checkout-stable", "app=registry.local/checkout:v3.5.0")
    changed = target_change(confirmed, planned(canary, canary_target()))
    assert "stable (checkout-stable), what the rollback moves to, changed after the plan was confirmed" in changed
    assert "image app: registry.local/checkout:v3.4.0 → registry.local/checkout:v3.5.0" in changed


def test_words_for_a_target_that_is_gone_and_for_a_plan_that_pinned_nothing():
    rev = Revision(1, "img:v1", name="storefront-blue", label="blue")
    pinned = {"images": {"app": "img:v1"}, "template": "a"}
    plan = Plan("blue-green", k8s_target("s", "ns", "s"), rev, rev, target_print=pinned)
    assert target_change(plan, dataclasses.replace(plan, target_print={})) == (
        "blue (storefront-blue), what the rollback moves to, is gone since the plan was confirmed"
    )
    unpinned = dataclasses.replace(plan, target_print={})  # a plan stored before plans were pinned
    assert target_change(unpinned, plan) == ""


def test_a_skipped_plan_pins_nothing(sim):
    live = sim.strategy.history(sim.target)[-1].number
    assert planned(sim.strategy, dataclasses.replace(sim.target, to_revision=live)).target_print == {}
