"""Where traffic goes, as pure functions over the objects that route it: a Service's selector and an
Istio VirtualService's routes. Each write is a JSON Patch whose ``test`` ops make a concurrent edit
fail (422) instead of being silently overwritten.

A VirtualService destination is named by its subset when it has one, else by its host's short
name (``checkout-canary.shop.svc.cluster.local`` -> ``checkout-canary``), as the catalog names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]


def _escape(key: str) -> str:
    """A JSON Pointer token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def selector_patch(service: Obj, key: str, value: str) -> list[dict]:
    """Point the Service's selector ``key`` at ``value``, guarded by its resourceVersion."""
    return [
        {"op": "test", "path": "/metadata/resourceVersion", "value": service["metadata"].get("resourceVersion", "")},
        {"op": "replace", "path": f"/spec/selector/{_escape(key)}", "value": value},
    ]


def route_name(destination: Obj) -> str:
    return destination.get("subset") or str(destination.get("host", "")).split(".", 1)[0]


def _routes(vs: Obj) -> Iterator[tuple[int, int, Obj]]:
    """(http index, route index, route) of every HTTP route of the VirtualService."""
    for i, http in enumerate((vs.get("spec") or {}).get("http") or []):
        for j, route in enumerate(http.get("route") or []):
            yield i, j, route


def subset_of(vs: Obj | None) -> str | None:
    """The subset the first HTTP route sends (most of) its traffic to; None without a VirtualService."""
    if vs is None:
        return None
    best = max(_routes(vs), key=lambda r: r[2].get("weight", 100), default=None)
    return (best[2].get("destination") or {}).get("subset") if best else None


def subset_patch(vs: Obj, subset: str) -> list[dict]:
    """Every route's destination subset set to ``subset`` (the host stays), each guarded by a ``test`` of its
    current subset; empty when nothing routes by subset or it is already there."""
    ops: list[dict] = []
    for i, j, route in _routes(vs):
        current = (route.get("destination") or {}).get("subset")
        if current is None or current == subset:
            continue
        path = f"/spec/http/{i}/route/{j}/destination/subset"
        ops += [{"op": "test", "path": path, "value": current}, {"op": "replace", "path": path, "value": subset}]
    return ops


def weights_of(vs: Obj, stable: str, canary: str) -> dict[str, int]:
    """The percent of traffic the first HTTP route with both destinations gives each (0 when absent)."""
    for http in (vs.get("spec") or {}).get("http") or []:
        routes = http.get("route") or []
        names = {route_name(r.get("destination") or {}): r for r in routes}
        if stable in names and canary in names:
            weight = {n: int(r.get("weight", 0 if len(routes) > 1 else 100)) for n, r in names.items()}
            return {stable: weight[stable], canary: weight[canary]}
    raise ValueError(f"no HTTP route of the VirtualService sends traffic to both {stable} and {canary}")


def weights_patch(vs: Obj, stable: str, canary: str, canary_weight: int) -> list[dict]:
    """The canary at ``canary_weight`` percent and the stable at the rest, in every HTTP route holding both;
    guarded by the VirtualService's resourceVersion."""
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": vs["metadata"].get("resourceVersion", "")}]
    for i, http in enumerate((vs.get("spec") or {}).get("http") or []):
        routes = http.get("route") or []
        names = [route_name(r.get("destination") or {}) for r in routes]
        if stable not in names or canary not in names:
            continue
        for j, name in enumerate(names):
            weight = canary_weight if name == canary else 100 - canary_weight if name == stable else 0
            ops.append({"op": "add", "path": f"/spec/http/{i}/route/{j}/weight", "value": weight})
    return ops


def replica_split(total: int, canary_weight: int) -> tuple[int, int]:
    """Stable and canary replicas giving the canary about ``canary_weight`` percent of the pods (at least one
    stable pod; a canary above 0 % keeps at least one pod)."""
    canary = round(total * canary_weight / 100)
    if canary_weight > 0:
        canary = max(1, canary)
    canary = min(canary, total - 1) if total > 1 else (0 if canary_weight < 50 else canary)
    return total - canary, canary
