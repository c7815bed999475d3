"""Where a simulated service's requests go, as a real mesh would send them: an Istio VirtualService's
weighted destinations (a subset's labels from its DestinationRule), else the Service's selector."""

from __future__ import annotations

from typing import Any

from bot.sandbox.scenario import ServiceSpec

Route = tuple[float, list[dict]]  # (weight, the pods that serve it)


def _short(host: Any) -> str:
    return str(host or "").split(".", 1)[0]


def _subset_labels(cluster, namespace: str, host: str, subset: str) -> dict[str, str]:
    for rule in cluster.list("destinationrules", namespace):
        if _short((rule.get("spec") or {}).get("host")) == host:
            for s in (rule.get("spec") or {}).get("subsets") or []:
                if s.get("name") == subset:
                    return dict(s.get("labels") or {})
    return {"__no_such_subset__": subset}  # Istio answers 503 for an unknown subset: no pod matches


def _selected(cluster, namespace: str, service: str) -> dict[str, str] | None:
    svc = cluster.get("services", namespace, service)
    return dict(((svc or {}).get("spec") or {}).get("selector") or {}) if svc else None


def routes(cluster, spec: ServiceSpec) -> list[Route]:
    """The service's traffic split: weights (0-100) and the pods behind each."""
    ns = spec.namespace
    vs = cluster.get("virtualservices", ns, spec.name)
    http = ((vs or {}).get("spec") or {}).get("http") or []
    if http:
        destinations = http[0].get("route") or []
        out: list[Route] = []
        for r in destinations:
            dest = r.get("destination") or {}
            host = _short(dest.get("host"))
            selector = _selected(cluster, ns, host)
            if selector is not None and dest.get("subset"):
                selector.update(_subset_labels(cluster, ns, host, dest["subset"]))
            weight = float(r.get("weight", 100 if len(destinations) == 1 else 0))
            out.append((weight, cluster.list("pods", ns, selector) if selector else []))
        if out:
            return out
    selector = _selected(cluster, ns, spec.name) or spec.labels
    return [(100.0, cluster.list("pods", ns, selector))]
