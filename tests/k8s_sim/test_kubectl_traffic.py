"""Real kubectl on what the traffic strategies touch: Istio VirtualServices, a Service's selector, and
``rollout restart`` (which a config rollback sends)."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.kubectl


def test_get_virtualservices_and_destinationrules(sim):
    out = sim.ok("get", "virtualservice", "-A")
    assert re.search(r"checkout\s+checkout\s+", out) and re.search(r"storefront\s+storefront\s+", out)
    vs = json.loads(sim.ok("get", "vs", "checkout", "-n", "checkout", "-o", "json"))
    assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [20, 80]
    dr = json.loads(
        sim.ok("get", "destinationrules.networking.istio.io", "storefront", "-n", "storefront", "-o", "json")
    )
    assert [s["name"] for s in dr["spec"]["subsets"]] == ["blue", "green"]


def test_patch_svc_selector_moves_the_endpoints(sim):
    sim.ok("scale", "deploy/storefront-blue", "-n", "storefront", "--replicas=3")
    sim.ok("rollout", "status", "deploy/storefront-blue", "-n", "storefront", "--timeout=60s")
    out = sim.ok("patch", "svc", "storefront", "-n", "storefront", "-p", '{"spec":{"selector":{"version":"blue"}}}')
    assert "service/storefront patched" in out
    svc = json.loads(sim.ok("get", "svc", "storefront", "-n", "storefront", "-o", "json"))
    assert svc["spec"]["selector"] == {"app": "storefront", "version": "blue"}

    def endpoint_pods() -> set[str]:
        ep = json.loads(sim.ok("get", "endpoints", "storefront", "-n", "storefront", "-o", "json"))
        return {a["targetRef"]["name"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}

    for _ in range(100):
        if endpoint_pods() and all(p.startswith("storefront-blue-") for p in endpoint_pods()):
            break
    assert endpoint_pods() and all(p.startswith("storefront-blue-") for p in endpoint_pods())


def test_rollout_restart_replaces_the_pods(sim):
    before = set(re.findall(r"pod/(shopping-service-\S+)", sim.ok("get", "pods", "-o", "name")))
    assert "restarted" in sim.ok("rollout", "restart", "deployment/shopping-service")
    sim.ok("rollout", "status", "deployment/shopping-service", "--timeout=60s")
    d = json.loads(sim.ok("get", "deploy", "shopping-service", "-o", "json"))
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    after = set(re.findall(r"pod/(shopping-service-\S+)", sim.ok("get", "pods", "-o", "name")))
    assert after and not (after & before)
