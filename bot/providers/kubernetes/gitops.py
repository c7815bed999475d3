"""GitOps awareness: a workload that Argo CD or Flux manages is put back to what Git says on the next sync,
undoing the rollback. ``detect`` (pure) finds the controller from the marker it leaves on the workload, for
the plan's warning; ``sync_state`` reads what sync is now (the run records it before it changes anything),
``suspend`` turns it off as a recorded run step, and ``resume`` puts exactly the recorded state back once the
rollback is committed to Git.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from bot.providers.kubernetes.api import Api, Call, CallFailed, Obj, explain
from bot.strategies.base import RollbackError, Target
from bot.strategies.capabilities import SyncOwner

ARGO_INSTANCE, ARGO_TRACKING = "argocd.argoproj.io/instance", "argocd.argoproj.io/tracking-id"
FLUX = {  # kind -> (label prefix, resource, what people call it)
    "flux-kustomize": ("kustomize.toolkit.fluxcd.io", "kustomizations", "Flux Kustomization"),
    "flux-helm": ("helm.toolkit.fluxcd.io", "helmreleases", "Flux HelmRelease"),
}
ARGO_NAMESPACE = "argocd"


@dataclass(frozen=True)
class GitOpsOwner:
    kind: str  # "argocd" | "flux-kustomize" | "flux-helm"
    name: str
    namespace: str
    warning: str  # for the plan

    @property
    def resource(self) -> str:
        return "applications" if self.kind == "argocd" else FLUX[self.kind][1]

    @property
    def title(self) -> str:
        """``Argo CD Application argocd/shop``."""
        what = "Argo CD Application" if self.kind == "argocd" else FLUX[self.kind][2]
        return f"{what} {self.namespace}/{self.name}"


def _warning(kind: str, title: str) -> str:
    if kind == "argocd":
        how, off = "its automated sync (self-heal) puts back what Git says", "remove its automated sync policy"
    else:
        how, off = "its next reconciliation applies what Git says", "suspend it (spec.suspend: true)"
    return (
        f"managed by GitOps ({title}): {how}, which would undo this rollback. The run will first {off}, "
        "as a recorded, reversible step; commit the rolled-back version to Git before turning sync back on."
    )


def owner(kind: str, name: str, namespace: str) -> GitOpsOwner:
    title = GitOpsOwner(kind, name, namespace, "").title
    return GitOpsOwner(kind, name, namespace, _warning(kind, title))


def detect(workload: Obj, argocd_namespace: str = ARGO_NAMESPACE) -> GitOpsOwner | None:
    """The GitOps controller that manages ``workload``, from its labels or Argo CD's tracking annotation."""
    meta = workload.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    app = (annotations.get(ARGO_TRACKING) or "").split(":", 1)[0] or labels.get(ARGO_INSTANCE)
    if app:
        ns, _, name = app.rpartition("_")  # "<namespace>_<name>" for Applications outside argocd's namespace
        return owner("argocd", name, ns or argocd_namespace)
    for kind, (prefix, _, _) in FLUX.items():
        name, ns = labels.get(f"{prefix}/name"), labels.get(f"{prefix}/namespace")
        if name and ns:
            return owner(kind, name, ns)
    return None


def detect_any(objects: list[Obj | None]) -> GitOpsOwner | None:
    """The first GitOps owner among the objects a rollback changes (a Service, a VirtualService, Deployments)."""
    return next((found for obj in objects if obj and (found := detect(obj))), None)


def _explained(owner: GitOpsOwner, failed: CallFailed, consequence: str, next_step: str = "") -> RollbackError:
    if failed.status == 404:
        return RollbackError(
            f"the {owner.title} is gone (404 Not Found); {consequence}. Check which controller manages the "
            f"workload now (`kubectl get {owner.resource}.{failed.call.group} -n {owner.namespace}`)."
        )
    return explain(failed, consequence, next_step)


def _read(api: Api, owner: GitOpsOwner, consequence: str) -> Obj:
    try:
        return api.read(Call("get", owner.resource, owner.namespace, owner.name))
    except CallFailed as failed:
        raise _explained(owner, failed, consequence) from failed


def _patch(api: Api, owner: GitOpsOwner, body: Obj, consequence: str, next_step: str = "") -> None:
    try:
        api.write(Call("patch", owner.resource, owner.namespace, owner.name), body)
    except CallFailed as failed:
        raise _explained(owner, failed, consequence, next_step) from failed


def _not_suspended(owner: GitOpsOwner) -> str:
    return f"sync was not suspended, so the rollback was not started: the {owner.title} would revert it"


def sync_state(api: Api, owner: GitOpsOwner) -> dict:
    """What ``resume`` would put back, read live: Argo CD ``{"automated": <policy or None>}``, Flux
    ``{"suspend": <its value>}``."""
    spec = _read(api, owner, _not_suspended(owner)).get("spec") or {}
    if owner.kind == "argocd":
        return {"automated": (spec.get("syncPolicy") or {}).get("automated")}
    return {"suspend": spec.get("suspend")}


def suspend(api: Api, owner: GitOpsOwner, state: dict | None = None) -> dict:
    """Turn sync off (merge patch) unless it is off already; returns what was there, for ``resume``.

    ``state``: the ``sync_state`` the caller just read (and recorded before this patch); read here otherwise.
    Argo CD: ``spec.syncPolicy.automated`` is removed; Flux: ``spec.suspend`` becomes true.
    """
    state = sync_state(api, owner) if state is None else state
    if owner.kind == "argocd" and state.get("automated") is not None:
        _patch(api, owner, {"spec": {"syncPolicy": {"automated": None}}}, _not_suspended(owner))
    elif owner.kind != "argocd" and state.get("suspend") is not True:
        _patch(api, owner, {"spec": {"suspend": True}}, _not_suspended(owner))
    return state


def resume(api: Api, owner: GitOpsOwner, saved: dict) -> None:
    """Put back what ``suspend`` changed (nothing when sync was already off)."""
    if owner.kind == "argocd":
        automated = saved.get("automated")
        body = {"spec": {"syncPolicy": {"automated": automated}}} if automated is not None else None
        by_hand = f"kubectl patch applications.argoproj.io {owner.name} -n {owner.namespace} --type merge -p "
        by_hand += "'" + json.dumps({"spec": {"syncPolicy": {"automated": automated}}}, separators=(",", ":")) + "'"
    else:
        body = None if saved.get("suspend") is True else {"spec": {"suspend": None}}
        singular = FLUX[owner.kind][1].removesuffix("s")
        by_hand = f"flux resume {singular} {owner.name} -n {owner.namespace}"
    if body is None:
        return
    _patch(
        api,
        owner,
        body,
        f"sync of the {owner.title} is still off",
        f"Turn it back on by hand once Git has the rolled-back version: `{by_hand}`.",
    )


def state_words(owner: GitOpsOwner, saved: dict) -> str:
    """``automated sync on (prune, selfHeal)``, ``already suspended``, ...: the state ``resume`` puts back."""
    if owner.kind != "argocd":
        return "already suspended" if saved.get("suspend") is True else "reconciling (not suspended)"
    automated = saved.get("automated")
    if automated is None:
        return "already without automated sync"
    on = ", ".join(k for k, v in automated.items() if v)
    return "automated sync on" + (f" ({on})" if on else "")


class GitOpsGuard:
    """The ``SyncGuard`` capability of the Kubernetes strategies: Argo CD and Flux, found by ``find`` (the
    strategy's ``sync_owner``: the markers on the workload the run changes)."""

    def __init__(self, api: Api, find: Callable[[Target], GitOpsOwner | None]) -> None:
        self.api, self.find = api, find

    def owner(self, target: Target) -> GitOpsOwner | None:
        return self.find(target)

    def state(self, owner: GitOpsOwner) -> dict:
        return sync_state(self.api, owner)

    def describe(self, owner: GitOpsOwner, state: dict) -> str:
        return state_words(owner, state)

    def suspend(self, owner: GitOpsOwner, state: dict) -> None:
        suspend(self.api, owner, state)

    def resume(self, recorded: SyncOwner, saved: dict) -> None:
        """``recorded``: the owner as the timeline has it, rebuilt from its kind, name and namespace."""
        resume(self.api, owner(recorded.kind, recorded.name, recorded.namespace), saved)
