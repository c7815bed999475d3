"""The deployment controller, after kube-controller-manager's deployment/ rolling.go, sync.go, progress.go.

Each function makes at most one step; ``Cluster.tick`` repeats them until nothing changes.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from . import objects as o
from .resources import BY_PLURAL

if TYPE_CHECKING:
    from .cluster import Cluster

DEPLOY, RS = BY_PLURAL["deployments"], BY_PLURAL["replicasets"]


def _replicas(obj: dict) -> int:
    return int(obj["spec"].get("replicas", 1))


def _st(obj: dict, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def _cond(status: dict, kind: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def set_condition(
    c: Cluster, status: dict, kind: str, state: str, reason: str, message: str, keep_transition: bool = True
) -> None:
    """deploymentutil.SetDeploymentCondition: same status and reason is a no-op."""
    now = o.iso(c.now())
    current = _cond(status, kind)
    if current and current["status"] == state and current["reason"] == reason:
        return
    cond = {
        "type": kind,
        "status": state,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }
    if current and current["status"] == state and keep_transition:
        cond["lastTransitionTime"] = current["lastTransitionTime"]
    status["conditions"] = [x for x in status.get("conditions") or [] if x["type"] != kind] + [cond]


def surge_and_unavailable(d: dict) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts."""
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    replicas = _replicas(d)
    surge = o.scaled(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = o.scaled(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def owned_replicasets(c: Cluster, d: dict) -> list[dict]:
    return [rs for rs in c.store.list(RS, d["metadata"]["namespace"]) if o.owned_by(rs, d)]


def find_new(d: dict, rss: list[dict]) -> dict | None:
    """The oldest ReplicaSet whose template matches the deployment's (deploymentutil.FindNewReplicaSet)."""
    matching = [rs for rs in rss if o.templates_equal(rs["spec"]["template"], d["spec"]["template"])]
    matching.sort(key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"]))
    return matching[0] if matching else None


def _rs_annotations(d: dict, rs: dict, new_revision: int) -> bool:
    """SetNewReplicaSetAnnotations: copy the deployment's annotations, bump revision, record history."""
    ann = rs["metadata"].setdefault("annotations", {})
    before = dict(ann)
    for k, v in (d["metadata"].get("annotations") or {}).items():
        if k not in o.NOT_COPIED:
            ann[k] = v
    old = o.revision(rs)
    if old < new_revision:
        ann[o.REVISION] = str(new_revision)
        if old > 0:
            ann[o.REVISION_HISTORY] = (
                f"{ann[o.REVISION_HISTORY]},{old}" if ann.get(o.REVISION_HISTORY) else str(old)
            )
    surge, _ = surge_and_unavailable(d)
    ann[o.DESIRED_REPLICAS] = str(_replicas(d))
    ann[o.MAX_REPLICAS] = str(_replicas(d) + surge)
    return ann != before


def new_rs_replicas(d: dict, rss: list[dict], new: dict | None) -> int:
    """deploymentutil.NewRSNewReplicas for the RollingUpdate strategy."""
    current_new = _replicas(new) if new else 0
    if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
        return _replicas(d)
    surge, _ = surge_and_unavailable(d)
    total = sum(_replicas(rs) for rs in rss)
    max_total = _replicas(d) + surge
    if total >= max_total:
        return current_new
    return current_new + min(max_total - total, max(_replicas(d) - current_new, 0))


def scale_rs(c: Cluster, d: dict, rs: dict, replicas: int) -> None:
    before = _replicas(rs)
    if before == replicas:
        return
    rs["spec"]["replicas"] = replicas
    rs["metadata"]["generation"] = rs["metadata"].get("generation", 1) + 1
    surge, _ = surge_and_unavailable(d)
    ann = rs["metadata"].setdefault("annotations", {})
    ann[o.DESIRED_REPLICAS], ann[o.MAX_REPLICAS] = str(_replicas(d)), str(_replicas(d) + surge)
    c.write(RS, rs)
    verb = "up" if replicas > before else "down"
    c.record_event(
        d,
        "ScalingReplicaSet",
        f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {replicas}",
    )


def sync_revision(c: Cluster, d: dict, rss: list[dict], create: bool) -> dict | None:
    """getNewReplicaSet: find or create the new ReplicaSet; it and the deployment get the max revision."""
    new = find_new(d, rss)
    old_max = max((o.revision(rs) for rs in rss if rs is not new), default=0)
    new_revision = old_max + 1
    status = d.setdefault("status", {})
    if new is not None:
        if _rs_annotations(d, new, new_revision):
            c.write(RS, new)
        changed = _set_deploy_revision(d, o.revision(new))
        if _cond(status, "Progressing") is None:
            set_condition(
                c,
                status,
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                f'Found new replica set "{new["metadata"]["name"]}"',
            )
            changed = True
        if changed:
            c.write(DEPLOY, d)
        return new
    if not create:
        return None
    template = copy.deepcopy(d["spec"]["template"])
    pod_hash = o.template_hash(template, int(status.get("collisionCount") or 0))
    template.setdefault("metadata", {}).setdefault("labels", {})[o.HASH_LABEL] = pod_hash
    selector = copy.deepcopy(d["spec"]["selector"])
    selector.setdefault("matchLabels", {})[o.HASH_LABEL] = pod_hash
    name = f"{d['metadata']['name']}-{pod_hash}"
    rs = {
        "metadata": {
            "name": name,
            "namespace": d["metadata"]["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "ownerReferences": [o.owner_ref(d)],
            "generation": 1,
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": d["spec"].get("minReadySeconds", 0),
            "selector": selector,
            "template": template,
        },
        "status": {"replicas": 0},
    }
    _rs_annotations(d, rs, new_revision)
    rs["spec"]["replicas"] = new_rs_replicas(d, rss, None)
    c.create(RS, rs, c.now())
    if rs["spec"]["replicas"]:
        c.record_event(
            d, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {rs['spec']['replicas']}"
        )
    _set_deploy_revision(d, new_revision)
    set_condition(
        c, status, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"'
    )
    c.write(DEPLOY, d)
    return rs


def _set_deploy_revision(d: dict, rev: int) -> bool:
    ann = d["metadata"].setdefault("annotations", {})
    if ann.get(o.REVISION) == str(rev):
        return False
    ann[o.REVISION] = str(rev)
    return True


def _reconcile_old(c: Cluster, d: dict, new: dict | None, old: list[dict], all_rss: list[dict]) -> bool:
    """rolling.go reconcileOldReplicaSets: never drop below replicas - maxUnavailable available pods."""
    if sum(_replicas(rs) for rs in old) == 0:
        return False
    _, max_unavailable = surge_and_unavailable(d)
    min_available = _replicas(d) - max_unavailable
    new_unavailable = (_replicas(new) - _st(new, "availableReplicas")) if new else 0
    max_scaled_down = sum(_replicas(rs) for rs in all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    scaled = 0
    for rs in sorted(old, key=lambda r: r["metadata"]["creationTimestamp"]):  # unhealthy replicas first
        if scaled >= max_scaled_down or _replicas(rs) == _st(rs, "availableReplicas"):
            continue
        cut = min(max_scaled_down - scaled, _replicas(rs) - _st(rs, "availableReplicas"))
        scale_rs(c, d, rs, _replicas(rs) - cut)
        scaled += cut
    available = sum(_st(rs, "availableReplicas") for rs in all_rss)
    budget = available - min_available
    for rs in sorted(old, key=lambda r: r["metadata"]["creationTimestamp"]):
        if budget <= 0:
            break
        cut = min(_replicas(rs), budget)
        if cut:
            scale_rs(c, d, rs, _replicas(rs) - cut)
            budget -= cut
            scaled += cut
    return scaled > 0


def _cleanup(c: Cluster, d: dict, old: list[dict]) -> None:
    limit = d["spec"].get("revisionHistoryLimit")
    if limit is None:
        return
    cleanable = [rs for rs in old if _replicas(rs) == 0 and _st(rs, "replicas") == 0]
    cleanable.sort(key=lambda rs: (o.revision(rs), rs["metadata"]["creationTimestamp"]))
    for rs in cleanable[: max(len(cleanable) - int(limit), 0)]:
        c.remove(RS, rs["metadata"]["namespace"], rs["metadata"]["name"])


def _complete(d: dict, status: dict) -> bool:
    r = _replicas(d)
    return (
        status.get("updatedReplicas", 0) == r
        and status.get("replicas", 0) == r
        and status.get("availableReplicas", 0) == r
        and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
    )


def _calculate(c: Cluster, d: dict, all_rss: list[dict], new: dict | None) -> dict:
    status = copy.deepcopy(d.get("status") or {})
    available = sum(_st(rs, "availableReplicas") for rs in all_rss)
    status.update(
        observedGeneration=d["metadata"].get("generation", 1),
        replicas=sum(_st(rs, "replicas") for rs in all_rss),
        updatedReplicas=_st(new, "replicas") if new else 0,
        readyReplicas=sum(_st(rs, "readyReplicas") for rs in all_rss),
        availableReplicas=available,
        unavailableReplicas=max(sum(_replicas(rs) for rs in all_rss) - available, 0),
    )
    for field in ("updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas", "replicas"):
        if not status[field]:
            status.pop(field)  # omitempty, as the API server writes them
    _, max_unavailable = surge_and_unavailable(d)
    if available >= _replicas(d) - max_unavailable:
        set_condition(
            c, status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
        )
    else:
        set_condition(
            c,
            status,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    return status


def _progress(c: Cluster, d: dict, status: dict, new: dict | None) -> None:
    """progress.go syncRolloutStatus: Progressing condition and the progress deadline."""
    deadline = d["spec"].get("progressDeadlineSeconds")
    current = _cond(status, "Progressing")
    if deadline is None or (
        status.get("replicas", 0) == status.get("updatedReplicas", 0)
        and current
        and current["reason"] == "NewReplicaSetAvailable"
    ):
        return
    name = new["metadata"]["name"] if new else ""
    old = d.get("status") or {}
    progressing = (
        status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
        or status.get("replicas", 0) - status.get("updatedReplicas", 0)
        < old.get("replicas", 0) - old.get("updatedReplicas", 0)
        or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or status.get("availableReplicas", 0) > old.get("availableReplicas", 0)
    )
    if _complete(d, status):
        set_condition(
            c,
            status,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{name}" has successfully progressed.',
        )
    elif progressing:
        status["conditions"] = [x for x in status.get("conditions") or [] if x["type"] != "Progressing"]
        set_condition(
            c, status, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
        )
        if current and current["status"] == "True":
            _cond(status, "Progressing")["lastTransitionTime"] = current["lastTransitionTime"]
    elif (
        current
        and current["reason"] != "NewReplicaSetAvailable"
        and (
            current["reason"] == "ProgressDeadlineExceeded"
            or o.parse_time(current["lastUpdateTime"]) + int(deadline) < c.now()
        )
    ):
        set_condition(
            c,
            status,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{name}" has timed out progressing.',
        )


def _write_status(c: Cluster, d: dict, status: dict) -> None:
    if status != (d.get("status") or {}):
        d["status"] = status
        c.write(DEPLOY, d)


def sync_deployment(c: Cluster, d: dict) -> None:
    rss = owned_replicasets(c, d)
    spec = d["spec"]
    status = d.setdefault("status", {})
    paused = bool(spec.get("paused"))
    current = _cond(status, "Progressing")
    if paused and (not current or current["reason"] != "DeploymentPaused"):
        set_condition(c, status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        c.write(DEPLOY, d)
    elif not paused and current and current["reason"] == "DeploymentPaused":
        set_condition(c, status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")
        c.write(DEPLOY, d)
    new = sync_revision(c, d, rss, create=not paused)
    rss = owned_replicasets(c, d)
    old = [rs for rs in rss if rs is not new]
    if paused:
        active = [rs for rs in rss if _replicas(rs) > 0]
        target = new if new is not None and len(active) <= 1 else (active[0] if len(active) == 1 else None)
        if target is not None and _replicas(target) != _replicas(d):
            scale_rs(c, d, target, _replicas(d))
        _cleanup(c, d, old)
        _write_status(c, d, _calculate(c, d, rss, new))
        return
    if new is not None and _replicas(new) != _replicas(d):
        wanted = _replicas(d) if _replicas(new) > _replicas(d) else new_rs_replicas(d, rss, new)
        if wanted != _replicas(new):
            scale_rs(c, d, new, wanted)
            return _sync_status(c, d, rss, new)
    if _reconcile_old(c, d, new, old, rss):
        return _sync_status(c, d, rss, new)
    if _complete(d, d.get("status") or {}):
        _cleanup(c, d, old)
    _sync_status(c, d, owned_replicasets(c, d), new)


def _sync_status(c: Cluster, d: dict, rss: list[dict], new: dict | None) -> None:
    status = _calculate(c, d, rss, new)
    _progress(c, d, status, new)
    _write_status(c, d, status)
