"""Pure rules of ``kubectl rollout history|undo|status`` for StatefulSets, on plain API JSON.

A StatefulSet keeps its history in ControllerRevisions (``revision`` field, ``data`` = the pod
template as a strategic merge patch), not in annotations; its rollout is done when kubectl's
``statefulSetStatusViewer`` says so (``kubectl/pkg/polymorphichelpers/rollout_status.go``).
Free of I/O so each rule is unit-tested on its own; shared rules come from ``rollout_rules.py``.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.providers.kubernetes import rollout_rules
from bot.strategies.base import Progress, RollbackError

Obj = dict[str, Any]
REVISION_LABEL = "controller-revision-hash"  # on pods: the name of the ControllerRevision they run
BAD_WAITING = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"})


def revision_number(cr: Obj) -> int | None:
    value = cr.get("revision")
    return value if isinstance(value, int) else None


def owned_revisions(sts: Obj, revisions: list[Obj]) -> list[Obj]:
    """history.go controlledHistory: selector match AND controlled by the StatefulSet."""
    return rollout_rules.owned_replicasets(sts, revisions)


def revision_template(cr: Obj) -> Obj:
    """The pod template a ControllerRevision restores (its ``data`` without the ``$patch`` directive)."""
    template = copy.deepcopy(((cr.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def as_replicaset(cr: Obj) -> Obj:
    """A ControllerRevision shaped like a ReplicaSet, for the rules that read ``spec.template``."""
    return {"metadata": cr.get("metadata") or {}, "spec": {"template": revision_template(cr)}}


def template(sts: Obj) -> Obj:
    return rollout_rules.deployment_template(sts)


def select_revision(sts: Obj, owned: list[Obj], to_revision: int | None) -> Obj:
    """rollback.go findHistory: ``to_revision``'s revision, or the second-highest one."""
    return rollout_rules.select_revision(sts, owned, to_revision, number=revision_number)


def live_revision(sts: Obj, owned: list[Obj]) -> Obj | None:
    """The revision of the live template: ``status.updateRevision``, else the newest equal one."""
    wanted = (sts.get("status") or {}).get("updateRevision")
    named = next((cr for cr in owned if (cr.get("metadata") or {}).get("name") == wanted), None)
    if named is not None and matches(named, sts):
        return named
    equal = [cr for cr in owned if matches(cr, sts)]
    return max(equal, key=lambda cr: revision_number(cr) or 0) if equal else None


def matches(cr: Obj, sts: Obj) -> bool:
    """rollback.go statefulsetMatch, compared semantically rather than byte for byte."""
    return rollout_rules.equal_ignore_hash(revision_template(cr), template(sts))


def strategy_type(sts: Obj) -> str:
    return ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"


def partition(sts: Obj) -> int:
    rolling = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    return int(rolling.get("partition") or 0)


def rollback_patch(sts: Obj, cr: Obj, guard: str) -> list[Obj]:
    """kubectl sends the revision's ``data`` (replace the template); as JSON Patch, after our guard."""
    return [
        {"op": "test", "path": "/metadata/resourceVersion", "value": guard},
        {"op": "replace", "path": "/spec/template", "value": revision_template(cr)},
    ]


def refusal(sts: Obj) -> str | None:
    """Why an undo cannot be followed to the end: OnDelete replaces no pod by itself."""
    if strategy_type(sts) != "RollingUpdate":
        meta = sts.get("metadata") or {}
        return (
            f"{rollout_rules.name_of(sts)} uses the {strategy_type(sts)} update strategy: its pods keep the old "
            "template until each is deleted by hand, so the bot cannot roll it back and follow it. Switch it to "
            "RollingUpdate "
            f"(`kubectl patch statefulset/{meta.get('name')} -n {meta.get('namespace')} "
            '-p \'{"spec":{"updateStrategy":{"type":"RollingUpdate"}}}\'`), then try again'
        )
    return None


def order_warnings(sts: Obj, pods: list[Obj]) -> list[str]:
    """What a StatefulSet rollback does that a Deployment's does not: one pod at a time, from the top."""
    name = (sts.get("metadata") or {}).get("name", "")
    replicas = (sts.get("spec") or {}).get("replicas", 1)
    cut = partition(sts)
    warnings = []
    if replicas:
        warnings.append(
            f"pods are replaced one at a time from the highest ordinal ({name}-{replicas - 1} first, "
            f"{name}-{cut} last); each waits for the one before to be ready, so a pod that never gets "
            "ready stops the rollback there"
        )
    if cut:
        kept = f"pod {name}-0 stays" if cut == 1 else f"pods {name}-0 to {name}-{cut - 1} stay"
        warnings.append(f"partition {cut}: {kept} on the current revision; lower the partition to roll back all pods")
    for pod, reason in failing_pods(pods):
        warnings.append(
            f"pod {pod} is not ready ({reason}): the StatefulSet controller will not replace it by itself "
            f"(forced rollback); after the rollback, delete it (`kubectl delete pod {pod}`) so it is recreated "
            "from the restored template"
        )
    return warnings


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def failing_pods(pods: list[Obj]) -> list[tuple[str, str]]:
    """Pods not ready whose containers crash or cannot start: (name, "CrashLoopBackOff, 3 restarts")."""
    out = []
    for pod in sorted(pods, key=lambda p: (p.get("metadata") or {}).get("name", "")):
        if _ready(pod):
            continue
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        reasons = {((cs.get("state") or {}).get("waiting") or {}).get("reason") for cs in statuses} & BAD_WAITING
        if reasons:
            restarts = sum(cs.get("restartCount", 0) for cs in statuses)
            out.append((pod["metadata"]["name"], f"{', '.join(sorted(reasons))}, {restarts} restarts"))
    return out


def rollout_status(sts: Obj) -> tuple[bool, str]:
    """rollout_status.go StatefulSetStatusViewer.Status -> (done, kubectl's message).

    Raises RollbackError for OnDelete, as kubectl refuses to follow one.
    """
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    generation = (sts.get("metadata") or {}).get("generation") or 0
    if strategy_type(sts) != "RollingUpdate":
        raise RollbackError(refusal(sts) or "")
    observed = status.get("observedGeneration") or 0
    if observed == 0 or generation > observed:
        return False, "Waiting for statefulset spec update to be observed..."
    replicas = spec.get("replicas")
    ready, updated = status.get("readyReplicas") or 0, status.get("updatedReplicas") or 0
    if replicas is not None and ready < replicas:
        return False, f"Waiting for {replicas - ready} pods to be ready..."
    if (spec.get("updateStrategy") or {}).get("rollingUpdate") is not None:
        if replicas is not None and updated < replicas - partition(sts):
            return False, (
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {replicas - partition(sts)} new pods have been updated..."
            )
        return True, f"partitioned roll out complete: {updated} new pods have been updated..."
    if status.get("updateRevision") != status.get("currentRevision"):
        return False, (
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{status.get('updateRevision')}..."
        )
    return True, (
        f"statefulset rolling update complete {status.get('currentReplicas') or 0} pods at revision "
        f"{status.get('currentRevision')}..."
    )


def progress_of(sts: Obj) -> Progress:
    """A short line for a phone screen: "2/3 pods updated, 1/3 ready"."""
    done, message = rollout_status(sts)
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    replicas = spec.get("replicas") or 0
    desired = max(replicas - partition(sts), 0)
    updated, ready = status.get("updatedReplicas") or 0, status.get("readyReplicas") or 0
    if message.startswith("Waiting for statefulset spec"):
        text = "waiting for the cluster to pick up the change"
    else:
        text = f"{min(updated, desired)}/{desired} pods updated, {ready}/{replicas} ready"
        text = f"rolled out: {text}" if done else text
    return Progress(message=text, desired=desired, updated=updated, available=ready, done=done)
