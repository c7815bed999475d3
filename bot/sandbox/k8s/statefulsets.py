"""The StatefulSet controller, after kube-controller-manager's statefulset/ (stateful_set_control.go) and history/.

Why it is shaped so: ``kubectl rollout history|undo`` for StatefulSets reads ControllerRevisions and
patches back their ``data``, and ``rollout status`` reads the status fields written here, so both
must be what the real controller writes. Pod management is ``OrderedReady``: one pod at a time,
each waiting for its predecessor to be ready; a RollingUpdate goes from the highest ordinal down to
``partition`` and, like the real one, stops at a pod that is not ready (a "forced rollback" needs
that pod deleted by hand). Each call makes at most one change; ``Cluster.tick`` repeats it.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

from . import objects as o
from .pods import NODE, _ready, simulate_pod, with_resolved_env
from .resources import BY_PLURAL

if TYPE_CHECKING:
    from .cluster import Cluster

STS, CR, POD = BY_PLURAL["statefulsets"], BY_PLURAL["controllerrevisions"], BY_PLURAL["pods"]
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def default_statefulset(s: dict) -> None:
    """The API server's apps/v1 defaults (a RollingUpdate always carries ``partition``, as kubectl sees it)."""
    spec = s.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    o.default_pod_spec(template.setdefault("spec", {}))
    s.setdefault("status", {})


def compact(value) -> bytes:
    """JSON as Go's ``json.Marshal`` of a map writes it: sorted keys, no spaces (``Data.Raw``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def patch_data(s: dict) -> dict:
    """history.go getPatch: the pod template as a strategic merge patch that replaces it whole."""
    template = dict(copy.deepcopy(s["spec"]["template"]), **{"$patch": "replace"})
    return json.loads(compact({"spec": {"template": template}}))


def revision_template(cr: dict) -> dict:
    template = copy.deepcopy(((cr.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def _replicas(s: dict) -> int:
    return int(s["spec"].get("replicas", 1))


def partition(s: dict) -> int:
    strategy = s["spec"].get("updateStrategy") or {}
    return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)


def ordinal(pod: dict) -> int:
    tail = pod["metadata"]["name"].rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def owned(c: Cluster, res, s: dict) -> list[dict]:
    return [x for x in c.store.list(res, s["metadata"]["namespace"]) if o.owned_by(x, s)]


def _update_revision(c: Cluster, s: dict, revisions: list[dict]) -> dict:
    """getStatefulSetRevisions: the revision of the live template; an equal older one is renumbered."""
    data = patch_data(s)
    raw = compact(data)
    next_number = max((int(r.get("revision", 0)) for r in revisions), default=0) + 1
    equal = [r for r in revisions if compact(r.get("data")) == raw]
    if equal and equal[-1] is revisions[-1]:
        return equal[-1]
    if equal:
        equal[-1]["revision"] = next_number
        return c.write(CR, equal[-1])
    collisions = int((s.get("status") or {}).get("collisionCount") or 0)
    while True:
        h = o.safe_encode(str(o._fnv32a(raw + str(collisions).encode())))
        name = f"{s['metadata']['name']}-{h}"
        if c.store.get(CR, s["metadata"]["namespace"], name) is None:
            break
        collisions += 1
    labels = dict((s["spec"]["template"].get("metadata") or {}).get("labels") or {}, **{REVISION_LABEL: h})
    cr = {
        "metadata": {
            "name": name,
            "namespace": s["metadata"]["namespace"],
            "labels": labels,
            "annotations": dict(s["metadata"].get("annotations") or {}),
            "ownerReferences": [o.owner_ref(s)],
        },
        "data": data,
        "revision": next_number,
    }
    return c.create(CR, cr, c.now())


def _new_pod(c: Cluster, s: dict, index: int, revision: dict) -> None:
    """newVersionedStatefulSetPod: ``<sts>-<ordinal>`` from the given revision's template."""
    template = revision_template(revision)
    name = f"{s['metadata']['name']}-{index}"
    meta = template.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update({REVISION_LABEL: revision["metadata"]["name"], POD_NAME_LABEL: name, POD_INDEX_LABEL: str(index)})
    spec = template.get("spec") or {}
    spec.update(hostname=name, nodeName=NODE)
    spec.setdefault("serviceAccountName", "default")
    if s["spec"].get("serviceName"):
        spec.setdefault("subdomain", s["spec"]["serviceName"])
    pod = {
        "metadata": {
            "name": name,
            "namespace": s["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [o.owner_ref(s)],
        },
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }
    if meta.get("annotations"):
        pod["metadata"]["annotations"] = dict(meta["annotations"])
    simulate_pod(c, c.create(POD, with_resolved_env(c, pod), c.now()))


def _sync_pods(c: Cluster, s: dict, current: dict, update: dict, pods: dict[int, dict]) -> bool:
    """One step of updateStatefulSet (OrderedReady); True when something changed."""
    ns, replicas, cut = s["metadata"]["namespace"], _replicas(s), partition(s)
    rolling = (s["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
    for i in range(replicas):
        pod = pods.get(i)
        if pod is None:
            _new_pod(c, s, i, current if rolling and i < cut else update)
            return True
        if not _ready(pod):
            return False  # the next ordinal waits for this one
    condemned = sorted((i for i in pods if i >= replicas or i < 0), reverse=True)
    if condemned:
        c.remove(POD, ns, pods[condemned[0]]["metadata"]["name"])
        return True
    if not rolling:
        return False  # OnDelete: pods take the new template only when deleted
    for i in range(replicas - 1, cut - 1, -1):
        pod = pods[i]
        if pod["metadata"]["labels"].get(REVISION_LABEL) != update["metadata"]["name"]:
            c.remove(POD, ns, pod["metadata"]["name"])
            return True
        if not _ready(pod):
            return False
    return False


def _status(s: dict, current: dict, update: dict, pods: list[dict]) -> dict:
    """updateStatefulSetStatus + completeRollingUpdate."""
    names = [p["metadata"]["labels"].get(REVISION_LABEL) for p in pods]
    ready = sum(_ready(p) for p in pods)
    status = {
        "observedGeneration": s["metadata"].get("generation", 1),
        "replicas": len(pods),
        "readyReplicas": ready,
        "currentReplicas": names.count(current["metadata"]["name"]),
        "updatedReplicas": names.count(update["metadata"]["name"]),
        "currentRevision": current["metadata"]["name"],
        "updateRevision": update["metadata"]["name"],
        "collisionCount": int((s.get("status") or {}).get("collisionCount") or 0),
        "availableReplicas": ready,
    }
    rolling = (s["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
    if rolling and status["updatedReplicas"] == len(pods) and ready == len(pods):
        status["currentRevision"], status["currentReplicas"] = status["updateRevision"], status["updatedReplicas"]
    return {k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas", "collisionCount")}


def _truncate(c: Cluster, s: dict, revisions: list[dict], live: set[str]) -> None:
    """truncateHistory: keep revisions pods use, current and update, and the newest revisionHistoryLimit others."""
    old = [r for r in revisions if r["metadata"]["name"] not in live]
    limit = int(s["spec"].get("revisionHistoryLimit", 10))
    for r in sorted(old, key=lambda r: int(r.get("revision", 0)))[: max(len(old) - limit, 0)]:
        c.remove(CR, r["metadata"]["namespace"], r["metadata"]["name"])


def sync_statefulset(c: Cluster, s: dict) -> None:
    revisions = sorted(owned(c, CR, s), key=lambda r: int(r.get("revision", 0)))
    update = _update_revision(c, s, revisions)
    revisions = sorted(owned(c, CR, s), key=lambda r: int(r.get("revision", 0)))
    wanted = (s.get("status") or {}).get("currentRevision")
    current = next((r for r in revisions if r["metadata"]["name"] == wanted), update)
    pods = {ordinal(p): p for p in owned(c, POD, s)}
    _sync_pods(c, s, current, update, pods)
    live_pods = owned(c, POD, s)
    status = _status(s, current, update, live_pods)
    if status != s.get("status"):
        s["status"] = status
        c.write(STS, s)
    live = {current["metadata"]["name"], update["metadata"]["name"]}
    live |= {p["metadata"]["labels"].get(REVISION_LABEL) for p in live_pods}
    _truncate(c, s, revisions, live)


def complete(s: dict) -> bool:
    """The rollout is over: every pod ready at the update revision, the spec observed."""
    st = s.get("status") or {}
    return (
        st.get("observedGeneration", 0) >= s["metadata"].get("generation", 1)
        and st.get("readyReplicas", 0) == _replicas(s) == st.get("replicas", 0)
        and st.get("updatedReplicas", 0) >= _replicas(s) - partition(s)
        and (partition(s) > 0 or st.get("currentRevision") == st.get("updateRevision"))
    )


def new_statefulset(name: str, namespace: str, labels: dict, replicas: int, container: dict) -> dict:
    """A StatefulSet as a scenario declares it (its headless Service is the scenario's Service)."""
    s = {
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "annotations": {}, "generation": 1},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
        },
    }
    default_statefulset(s)
    return s
