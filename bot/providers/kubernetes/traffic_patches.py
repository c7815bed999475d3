"""Where traffic goes, as pure functions over the objects that route it: a Service's selector and an
Istio VirtualService's routes. Each write is a JSON Patch whose ``test`` ops make a concurrent edit
fail (422) instead of being silently overwritten.

A VirtualService destination is named by its subset when it has one, else by its host's short
name (``checkout-canary.shop.svc.cluster.local`` -> ``checkout-canary``), as the catalog names it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

Obj = dict[str, Any]

FINISHING = "finishing the switch of"  # a blue-green plan's summary when it finishes a half-done switch


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


def _weight(http: Obj, route: Obj) -> int:
    """A route's percent of its HTTP rule's traffic: its weight, else all of it when it is the only one."""
    return int(route.get("weight", 100 if len(http.get("route") or []) == 1 else 0))


def _colour_rules(vs: Obj, colours: Collection[str]) -> list[Obj]:
    """The HTTP rules with a route to one of ``colours``."""
    return [
        http
        for http in (vs.get("spec") or {}).get("http") or []
        if any((r.get("destination") or {}).get("subset") in colours for r in http.get("route") or [])
    ]


def subset_of(vs: Obj | None, colours: Collection[str]) -> str | None:
    """The colour the mesh sends its ordinary traffic to: of the HTTP rules routing to a colour, the catch-all
    one (no ``match``) or else the first, and its heaviest colour route. None without a VirtualService, or
    when no route goes to a colour."""
    rules = _colour_rules(vs or {}, colours)
    if not rules:
        return None
    http = next((h for h in rules if not h.get("match")), rules[0])
    routes = [r for r in http.get("route") or [] if (r.get("destination") or {}).get("subset") in colours]
    return max(routes, key=lambda r: _weight(http, r))["destination"]["subset"]


def routed_colours(vs: Obj | None, colours: Collection[str]) -> set[str]:
    """Every colour some traffic of the VirtualService goes to: a route with a weight above 0, or a mirror."""
    found: set[str] = set()
    for http in (vs or {}).get("spec", {}).get("http") or []:
        found |= {
            (r.get("destination") or {}).get("subset") for r in http.get("route") or [] if _weight(http, r) > 0
        }
        found.add((http.get("mirror") or {}).get("subset"))
    return found & set(colours)


def subset_patch(vs: Obj, subset: str, colours: Collection[str]) -> list[dict]:
    """The routes to one of ``colours`` sent to ``subset`` (the host stays), each guarded by a ``test`` of its
    current subset. Routes to any other subset (a header-matched debug route, say) and mirrors are left
    alone. Empty when no colour route needs to change."""
    ops: list[dict] = []
    for i, j, route in _routes(vs):
        current = (route.get("destination") or {}).get("subset")
        if current not in colours or current == subset:
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
