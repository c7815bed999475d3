"""How a scenario service is laid out in the cluster: one Deployment (plain), two colours behind a Service
(blue-green), or a stable and a canary Deployment split by Istio weights or replica counts (canary)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..scenario import ServiceSpec
from .resources import BY_PLURAL

if TYPE_CHECKING:
    from .cluster import Cluster

SVC, VS, DR = BY_PLURAL["services"], BY_PLURAL["virtualservices"], BY_PLURAL["destinationrules"]
ISTIO = "networking.istio.io/v1"


def seed(cluster: Cluster, svc: ServiceSpec, now: float) -> None:
    if svc.blue_green:
        _blue_green(cluster, svc, now)
    elif svc.canary:
        _canary(cluster, svc, now)
    else:
        cluster._seed_service(svc, now)


def _track(svc: ServiceSpec, suffix: str, revision, labels: dict[str, str], replicas: int) -> ServiceSpec:
    """One Deployment ``<service>-<suffix>`` (and its own Service of the same name) running ``revision``."""
    return dataclasses.replace(
        svc,
        name=f"{svc.name}-{suffix}",
        revisions=(revision,),
        selector={"app": svc.name, **labels},
        replicas=replicas,
        blue_green=None,
        canary=None,
    )


def _blue_green(cluster: Cluster, svc: ServiceSpec, now: float) -> None:
    bg = svc.blue_green
    for colour, revision in sorted(bg.colours.items(), key=lambda c: -c[1].age_hours):  # oldest first
        replicas = bg.replicas.get(colour, svc.replicas)
        cluster._seed_service(_track(svc, colour, revision, {bg.selector_key: colour}, replicas), now)
    _service(cluster, svc, {"app": svc.name, bg.selector_key: bg.active})
    if bg.virtual_service:
        subsets = [{"name": c, "labels": {bg.selector_key: c}} for c in bg.colours]
        _istio(cluster, svc, DR, {"host": svc.name, "subsets": subsets})
        route = [{"destination": {"host": svc.name, "subset": bg.active}}]
        _istio(cluster, svc, VS, {"hosts": [svc.name], "http": [{"route": route}]})


def _canary(cluster: Cluster, svc: ServiceSpec, now: float) -> None:
    canary = svc.canary
    if canary.virtual_service:
        stable_n = canary_n = svc.replicas
    else:  # the replica counts are the split
        canary_n = max(1, round(svc.replicas * 2 * canary.weight / 100))
        stable_n = max(1, svc.replicas * 2 - canary_n)
    cluster._seed_service(_track(svc, "stable", canary.stable, {"track": "stable"}, stable_n), now)
    cluster._seed_service(_track(svc, "canary", canary.canary, {"track": "canary"}, canary_n), now)
    _service(cluster, svc, {"app": svc.name})
    if canary.virtual_service:
        route = [
            {"destination": {"host": f"{svc.name}-stable"}, "weight": 100 - canary.weight},
            {"destination": {"host": f"{svc.name}-canary"}, "weight": canary.weight},
        ]
        _istio(cluster, svc, VS, {"hosts": [svc.name], "http": [{"route": route}]})


def _service(cluster: Cluster, svc: ServiceSpec, selector: dict[str, str]) -> None:
    """The Service clients call, ``<service>``, selecting ``selector``."""
    cluster._seed_service_object(dataclasses.replace(svc, selector=selector, blue_green=None, canary=None))
    obj = cluster.store.get(SVC, svc.namespace, svc.name)
    obj["metadata"]["labels"] = {"app": svc.name}
    cluster.write(SVC, obj)


def _istio(cluster: Cluster, svc: ServiceSpec, res, spec: dict) -> None:
    cluster.create(
        res,
        {
            "apiVersion": ISTIO,
            "kind": res.kind,
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": spec,
        },
    )
