"""Argo CD and Flux as far as a rollback meets them: a self-heal loop that puts back what Git says.

"Git" is an annotation on the Application (or Kustomization, or HelmRelease), ``DESIRED``: the pod template of each
Deployment it manages, by ``namespace/name``, recorded when the loop first sees the Deployment. Editing
that annotation is the sandbox's "commit to Git". While sync is on (Argo CD: ``spec.syncPolicy.automated``
with ``selfHeal``; Flux: ``spec.suspend`` not true) a Deployment whose live template differs is written
back, as the controllers' apply would, at most every ``INTERVAL`` simulated seconds (a sync interval
shortened from minutes so tests see it). With sync off an Application only turns OutOfSync.
"""

from __future__ import annotations

import copy
import json
import zlib
from typing import TYPE_CHECKING

from . import objects as o
from .resources import BY_PLURAL, Resource

if TYPE_CHECKING:
    from ..scenario import ServiceSpec
    from .cluster import Cluster

APP, KS, HR = BY_PLURAL["applications"], BY_PLURAL["kustomizations"], BY_PLURAL["helmreleases"]
DEPLOY = BY_PLURAL["deployments"]
ARGO_NS, FLUX_NS = "argocd", "flux-system"
INSTANCE, TRACKING = "argocd.argoproj.io/instance", "argocd.argoproj.io/tracking-id"
KS_NAME, KS_NS = "kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace"
HR_NAME, HR_NS = "helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace"
DESIRED = "sandbox.rollback-bot/desired-template"
REPO = "https://git.example.com/platform/deploy.git"
INTERVAL = 3.0


def owner_of(obj: dict) -> tuple[Resource, str, str] | None:
    """(resource, namespace, name) of the Application, Kustomization or HelmRelease that manages ``obj``."""
    meta = obj["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    app = (annotations.get(TRACKING) or "").split(":", 1)[0] or labels.get(INSTANCE)
    if app:
        ns, _, name = app.rpartition("_")  # "<namespace>_<name>" when apps live outside argocd
        return APP, ns or ARGO_NS, name
    if labels.get(KS_NAME) and labels.get(KS_NS):
        return KS, labels[KS_NS], labels[KS_NAME]
    if labels.get(HR_NAME) and labels.get(HR_NS):
        return HR, labels[HR_NS], labels[HR_NAME]
    return None


def _revision(desired: dict) -> str:
    """A stable fake commit SHA of the Git state."""
    return f"{zlib.crc32(json.dumps(desired, sort_keys=True).encode()):08x}" * 5


def _healing(res: Resource, owner: dict) -> bool:
    spec = owner.get("spec") or {}
    if res is APP:
        return bool(((spec.get("syncPolicy") or {}).get("automated") or {}).get("selfHeal"))
    if res is HR and (spec.get("driftDetection") or {}).get("mode") != "enabled":
        return False  # helm-controller corrects drift only when told to
    return spec.get("suspend") is not True


def _record_sync(c: Cluster, res: Resource, owner: dict, desired: dict, healed: bool) -> None:
    """The owner's status after a sync (``healed``) or a check: what Argo CD and Flux themselves write."""
    new, rev, when = copy.deepcopy(owner), _revision(desired), o.iso(c.now())
    status = new.setdefault("status", {})
    if res is APP:
        status["sync"] = {"status": "Synced" if healed else "OutOfSync", "revision": rev}
        if healed:
            history = status.setdefault("history", [])
            history.append(
                {"id": len(history), "revision": rev, "deployedAt": when, "source": new["spec"].get("source", {})}
            )
            status["operationState"] = {
                "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "startedAt": when,
                "finishedAt": when,
                "syncResult": {"revision": rev},
            }
    elif healed:
        applied = f"main@sha1:{rev}"
        status["lastAppliedRevision"] = applied
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True",
                "reason": "ReconciliationSucceeded",
                "message": f"Applied revision: {applied}",
                "lastTransitionTime": when,
            }
        ]
    if new != owner:
        c.write(res, new)


def _reconcile(c: Cluster, res: Resource, owner: dict, d: dict) -> None:
    key = f"{d['metadata']['namespace']}/{d['metadata']['name']}"
    annotations = owner["metadata"].get("annotations") or {}
    try:
        desired = json.loads(annotations.get(DESIRED) or "{}")
    except ValueError:
        desired = {}
    live = d["spec"]["template"]
    if key not in desired:  # first seen: what runs now is what Git says
        new = copy.deepcopy(owner)
        desired[key] = copy.deepcopy(live)
        new["metadata"].setdefault("annotations", {})[DESIRED] = json.dumps(desired, sort_keys=True)
        _record_sync(c, res, c.write(res, new), desired, healed=True)
        return
    if o.templates_equal(live, desired[key]):
        if res is APP and ((owner.get("status") or {}).get("sync") or {}).get("status") == "OutOfSync":
            _record_sync(c, res, owner, desired, healed=True)
        return
    if not _healing(res, owner):
        if res is APP:
            _record_sync(c, res, owner, desired, healed=False)
        return
    fixed = copy.deepcopy(d)
    fixed["spec"]["template"] = copy.deepcopy(desired[key])
    fixed["metadata"]["generation"] = d["metadata"].get("generation", 1) + 1
    c.write(DEPLOY, fixed)
    _record_sync(c, res, owner, desired, healed=True)


class SelfHeal:
    """The loop's state: when it last ran, in simulated seconds."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval, self.last = interval, float("-inf")

    def run(self, c: Cluster) -> None:
        """Called from every tick (store lock held); does its work once per ``interval``."""
        now = c.now()
        if now - self.last < self.interval:
            return
        self.last = now
        for d in list(c.store.list(DEPLOY)):
            found = owner_of(d)
            owner = c.store.get(found[0], found[1], found[2]) if found else None
            if found and owner is not None:
                _reconcile(c, found[0], owner, d)


def namespace_of(kind: str) -> str:
    return ARGO_NS if kind == "argocd" else FLUX_NS


def labels(svc: ServiceSpec) -> dict[str, str]:
    """The marker labels the GitOps controller puts on what it applies."""
    if svc.gitops == "argocd":
        return {INSTANCE: svc.name}
    if svc.gitops == "flux":
        return {KS_NAME: svc.name, KS_NS: FLUX_NS}
    if svc.gitops == "flux-helm":
        return {HR_NAME: svc.name, HR_NS: FLUX_NS}
    return {}


def owner_object(svc: ServiceSpec) -> tuple[Resource, dict]:
    """The Application or Kustomization that deploys ``svc`` from Git, sync on."""
    path = f"{svc.namespace}/{svc.name}"
    if svc.gitops == "argocd":
        spec = {
            "project": "default",
            "source": {"repoURL": REPO, "path": path, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": svc.namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        }
        status = {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
        return APP, {"metadata": {"name": svc.name, "namespace": ARGO_NS}, "spec": spec, "status": status}
    if svc.gitops == "flux":
        spec = {
            "interval": "10m",
            "path": f"./{path}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            "targetNamespace": svc.namespace,
        }
        return KS, {"metadata": {"name": svc.name, "namespace": FLUX_NS}, "spec": spec, "status": {}}
    if svc.gitops == "flux-helm":
        spec = {
            "interval": "10m",
            "chart": {
                "spec": {"chart": svc.name, "sourceRef": {"kind": "HelmRepository", "name": "charts"}, "version": "*"}
            },
            "targetNamespace": svc.namespace,
            "driftDetection": {"mode": "enabled"},  # without it helm-controller would leave a patched Deployment
        }
        return HR, {"metadata": {"name": svc.name, "namespace": FLUX_NS}, "spec": spec, "status": {}}
    raise ValueError(
        f"unknown gitops controller {svc.gitops!r} for service {svc.name}: use argocd, flux or flux-helm"
    )
