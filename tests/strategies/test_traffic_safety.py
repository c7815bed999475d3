"""Traffic safety against the simulator (real HTTP, the official client, real kubectl): a blue-green switch is
one logical change even when its second write fails or was never sent, only the colour routes move, *Delete*
re-reads what is live, and a canary sent to 0 % without Istio keeps its capacity."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.strategies.base import ReleaseLive, RollbackError, Target
from tests.strategies.test_traffic_strategies import bg, bg_target, canary, canary_target, kubectl_json  # noqa: F401

NS = "storefront"


def selector(sim) -> str:
    return kubectl_json(sim, NS, "get", "svc/storefront")["spec"]["selector"]["version"]


def http(sim) -> list[dict]:
    return kubectl_json(sim, NS, "get", "virtualservice/storefront")["spec"]["http"]


def set_http(sim, rules: list[dict]) -> None:
    patch = [{"op": "replace", "path": "/spec/http", "value": rules}]
    sim.kubectl("-n", NS, "patch", "virtualservice/storefront", "--type", "json", "-p", json.dumps(patch))


def to(colour_number: int) -> Target:
    return dataclasses.replace(bg_target(), to_revision=colour_number)


def route(subset: str, **extra) -> dict:
    return {"route": [{"destination": {"host": "storefront", "subset": subset}}], **extra}


# ------------------------------------------------------------------------------ only colour routes


def test_only_the_colour_routes_switch_a_debug_route_and_a_mirror_stay(bg, sim):  # noqa: F811
    debug = {"match": [{"headers": {"x-debug": {"exact": "1"}}}], **route("debug")}
    set_http(sim, [debug, route("green", mirror={"host": "storefront", "subset": "shadow"})])
    plan = bg.plan(bg_target())
    assert "switch VirtualService storefront route subset: green → blue" in plan.changes
    bg.prepare(plan, lambda p: None, 600)
    bg.apply(plan)
    assert http(sim) == [debug, route("blue", mirror={"host": "storefront", "subset": "shadow"})]
    assert bg.is_applied(plan)
    checks = {c.name: c for c in bg.verify(plan).checks}
    assert checks["route"].ok, checks["route"]


# ------------------------------------------------------------------------------ one logical switch


def test_a_failed_route_patch_puts_the_selector_back_and_says_so(bg, sim):  # noqa: F811
    plan = bg.plan(bg_target())
    sim.faults.add(500, verb="patch", resource="virtualservices", times=1)
    with pytest.raises(RollbackError) as failed:
        bg.apply(plan)
    text = str(failed.value)
    assert "when the bot tried to patch virtualservices" in text
    assert "switched back to version=green, so all traffic is on green again" in text and "nothing is half" in text
    assert "*Finish the switch*" in text
    assert selector(sim) == "green" and http(sim)[0]["route"][0]["destination"]["subset"] == "green"


def test_a_route_patch_whose_answer_was_lost_is_a_whole_switch(bg, sim):  # noqa: F811
    plan = bg.plan(bg_target())
    sim.faults.add(500, verb="patch", resource="virtualservices", times=1, after=True)
    bg.apply(plan)
    assert selector(sim) == "blue" and http(sim)[0]["route"][0]["destination"]["subset"] == "blue"


def test_a_half_switched_service_is_described_and_can_be_finished_to_either_colour(bg, sim):  # noqa: F811
    """Service selects blue, mesh routes green: a switch cut short between its two writes."""
    bg.prepare(bg.plan(bg_target()), lambda p: None, 600)
    sim.kubectl("-n", NS, "patch", "svc/storefront", "-p", '{"spec":{"selector":{"version":"blue"}}}')
    live = bg.history(bg_target())[-1]
    assert live.change_cause == "traffic half-switched: Service selects blue, mesh routes green"

    to_blue = bg.plan(to(1))
    assert not to_blue.skipped and (to_blue.current.label, to_blue.desired.label) == ("green", "blue")
    assert to_blue.changes[:2] == (
        "keep Service storefront selector version: blue (it is there already)",
        "switch VirtualService storefront route subset: green → blue",
    )
    assert "half-switched now (Service selects blue, mesh routes green)" in to_blue.warnings[0]
    assert "choose green on the incident card" in to_blue.warnings[0]
    to_green = bg.plan(to(2))
    assert (to_green.current.label, to_green.desired.label) == ("blue", "green")
    assert to_green.changes[0] == "switch Service storefront selector version: blue → green"
    assert not any("VirtualService" in c for c in to_green.changes)

    bg.apply(to_blue)
    assert selector(sim) == "blue" and http(sim)[0]["route"][0]["destination"]["subset"] == "blue"
    assert bg.is_applied(to_blue) and bg.plan(to(1)).skipped == "already on blue"


# ------------------------------------------------------------------------------ Delete re-reads the cluster


def switched(bg, sim):  # noqa: F811
    plan = bg.plan(bg_target())
    bg.prepare(plan, lambda p: None, 600)
    bg.apply(plan)
    return plan


def test_delete_refuses_a_colour_the_service_selects_again(bg, sim):  # noqa: F811
    plan = switched(bg, sim)
    sim.kubectl("-n", NS, "patch", "svc/storefront", "-p", '{"spec":{"selector":{"version":"green"}}}')
    with pytest.raises(ReleaseLive, match=r"storefront-green serves traffic again \(Service storefront selects"):
        bg.delete(plan)
    assert kubectl_json(sim, NS, "get", "deploy/storefront-green")["metadata"]["name"] == "storefront-green"


def test_delete_refuses_a_colour_the_mesh_routes_to_and_deletes_an_idle_one(bg, sim):  # noqa: F811
    plan = switched(bg, sim)
    set_http(sim, [route("blue", mirror={"host": "storefront", "subset": "green"})])
    with pytest.raises(ReleaseLive, match="VirtualService storefront sends traffic to subset green"):
        bg.delete(plan)
    set_http(sim, [route("blue")])
    sim.kubectl("-n", NS, "set", "image", "deploy/storefront-green", "app=registry.local/storefront:v2.2.0")
    with pytest.raises(ReleaseLive, match="now runs registry.local/storefront:v2.2.0, not the bad release"):
        bg.delete(plan)
    sim.kubectl("-n", NS, "set", "image", "deploy/storefront-green", "app=registry.local/storefront:v2.1.0")
    bg.delete(plan)
    names = [d["metadata"]["name"] for d in kubectl_json(sim, NS, "get", "deployments")["items"]]
    assert names == ["storefront-blue"]


# ------------------------------------------------------------------------------ canary without Istio


def test_all_traffic_to_stable_without_a_virtual_service_scales_the_stable_up_first(canary, sim):  # noqa: F811
    t = canary_target(virtual_service="")
    assert canary.weight(t) == 50  # two replicas each
    canary.scale(t, 0)  # the failure card's *All traffic to stable now*
    stable = kubectl_json(sim, "checkout", "get", "deploy/checkout-stable")["spec"]["replicas"]
    canary_n = kubectl_json(sim, "checkout", "get", "deploy/checkout-canary")["spec"]["replicas"]
    assert (stable, canary_n) == (4, 0), "the stable takes the canary's pods: capacity stays at 4"
