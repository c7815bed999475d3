"""The ReplicaSet controller, the simulated kubelet (readiness and restarts per image) and endpoints."""

from __future__ import annotations

import copy
import json
import zlib
from typing import TYPE_CHECKING

from ..scenario import RESOLVED_ENV
from . import objects as o
from .resources import BY_PLURAL
from .selectors import label_matcher

if TYPE_CHECKING:
    from .cluster import Cluster

RS, POD = BY_PLURAL["replicasets"], BY_PLURAL["pods"]
CM = BY_PLURAL["configmaps"]
SVC, EP = BY_PLURAL["services"], BY_PLURAL["endpoints"]
NODE = "sandbox-node"


def _ready(pod: dict) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pod_ip(pod: dict) -> str:
    h = zlib.crc32(pod["metadata"]["uid"].encode())
    return f"10.244.{(h >> 8) % 250 + 1}.{h % 250 + 2}"


def resolve_env(c: Cluster, namespace: str, spec: dict) -> dict[str, dict[str, str]]:
    """What each container reads from ConfigMaps as it starts (envFrom, then env valueFrom): container name ->
    {NAME: value}. Read once, as a kubelet does: a later change needs a restart. Secrets are left out, so no
    Secret value ends up in a pod's annotations (a scenario's ``when_env`` cannot depend on one)."""

    def data(name: str) -> dict[str, str]:
        return dict((c.store.get(CM, namespace, name) or {}).get("data") or {})

    out: dict[str, dict[str, str]] = {}
    for ctr in spec.get("containers") or []:
        env: dict[str, str] = {}
        for source in ctr.get("envFrom") or []:
            if (source.get("configMapRef") or {}).get("name"):
                env.update(data(source["configMapRef"]["name"]))
        for entry in ctr.get("env") or []:
            ref = (entry.get("valueFrom") or {}).get("configMapKeyRef") or {}
            if ref.get("name") and ref.get("key") in data(ref["name"]):
                env[entry["name"]] = data(ref["name"])[ref["key"]]
        if env:
            out[ctr.get("name", "")] = env
    return out


def with_resolved_env(c: Cluster, pod: dict) -> dict:
    """The pod with what its containers read from ConfigMaps and Secrets recorded (see ``Scenario``)."""
    resolved = resolve_env(c, pod["metadata"]["namespace"], pod["spec"])
    if resolved:
        pod["metadata"].setdefault("annotations", {})[RESOLVED_ENV] = json.dumps(resolved, sort_keys=True)
    return pod


def sync_replicaset(c: Cluster, rs: dict) -> None:
    """Create or delete pods until the ReplicaSet has ``spec.replicas`` of them, then record its status."""
    ns = rs["metadata"]["namespace"]
    pods = [p for p in c.store.list(POD, ns) if o.owned_by(p, rs)]
    want = int(rs["spec"].get("replicas", 1))
    while len(pods) < want:
        pods.append(_new_pod(c, rs))
    if len(pods) > want:
        doomed = sorted(pods, key=lambda p: (_ready(p), p["metadata"]["creationTimestamp"]))[
            : len(pods) - want
        ]
        for p in doomed:
            c.remove(POD, ns, p["metadata"]["name"])
        pods = [p for p in pods if p not in doomed]
    ready = sum(_ready(p) for p in pods)
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    status = {k: v for k, v in status.items() if v}
    status.setdefault("replicas", 0)
    if status != rs.get("status"):
        rs["status"] = status
        c.write(RS, rs)


def _new_pod(c: Cluster, rs: dict) -> dict:
    template = copy.deepcopy(rs["spec"]["template"])
    meta = template.get("metadata") or {}
    name = f"{rs['metadata']['name']}-{''.join(c.rand.choice(o.SAFE_ALPHANUMS) for _ in range(5))}"
    spec = template.get("spec") or {}
    spec.setdefault("nodeName", NODE)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    pod = {
        "metadata": {
            "name": name,
            "generateName": f"{rs['metadata']['name']}-",
            "namespace": rs["metadata"]["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": [o.owner_ref(rs)],
        },
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }
    if meta.get("annotations"):
        pod["metadata"]["annotations"] = dict(meta["annotations"])
    created = c.create(POD, with_resolved_env(c, pod), c.now())
    simulate_pod(c, created)
    return created


def pod_status(c: Cluster, pod: dict, now: float) -> dict:
    """What the kubelet would report at ``now``: readiness and restarts follow the image's behaviour."""
    born = o.parse_time(pod["metadata"]["creationTimestamp"])
    elapsed = max(now - born, 0.0)
    statuses, ready_at = [], born
    for ctr in pod["spec"].get("containers") or []:
        b = c.scenario.container_behaviour(pod, ctr)
        cs = {
            "name": ctr["name"],
            "image": ctr.get("image", ""),
            "imageID": f"{ctr.get('image', '')}@sha256:"
            + f"{zlib.crc32(ctr.get('image', '').encode()):08x}" * 8,
            "containerID": "containerd://"
            + f"{zlib.crc32((pod['metadata']['uid'] + ctr['name']).encode()):08x}" * 8,
        }
        if b.crashloop:
            restarts = int(elapsed // max(b.restart_every, 0.001))
            cs.update(ready=False, started=False, restartCount=restarts)
            if restarts:
                last = born + restarts * b.restart_every
                backoff = min(10 * 2 ** min(restarts - 1, 5), 300)
                cs["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {backoff}s "
                        f"restarting failed container={ctr['name']} pod={pod['metadata']['name']}",
                    }
                }
                cs["lastState"] = {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": o.iso(last - b.restart_every / 2),
                        "finishedAt": o.iso(last),
                        "containerID": cs["containerID"],
                    }
                }
            else:
                cs["state"] = {"running": {"startedAt": o.iso(born)}}
            ready_at = None
        else:
            ok = elapsed >= b.ready_after
            cs.update(ready=ok, started=True, restartCount=0, state={"running": {"startedAt": o.iso(born)}})
            if ready_at is not None:
                ready_at = max(ready_at, born + b.ready_after) if ok else None
        statuses.append(cs)
    ready = ready_at is not None
    since = o.iso(ready_at if ready else born)
    conds = [
        ("PodReadyToStartContainers", "True", o.iso(born)),
        ("Initialized", "True", o.iso(born)),
        ("Ready", "True" if ready else "False", since),
        ("ContainersReady", "True" if ready else "False", since),
        ("PodScheduled", "True", o.iso(born)),
    ]
    conditions = []
    for kind, state, when in conds:
        cond = {"type": kind, "status": state, "lastProbeTime": None, "lastTransitionTime": when}
        if state == "False":
            cond.update(
                reason="ContainersNotReady",
                message="containers with unready status: ["
                + " ".join(s["name"] for s in statuses if not s["ready"])
                + "]",
            )
        conditions.append(cond)
    ip = pod_ip(pod)
    return {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": "192.168.49.2",
        "hostIPs": [{"ip": "192.168.49.2"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": o.iso(born),
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }


def simulate_pod(c: Cluster, pod: dict) -> None:
    status = pod_status(c, pod, c.now())
    if status != pod.get("status"):
        pod["status"] = status
        c.write(POD, pod)


def sync_endpoints(c: Cluster, svc: dict) -> None:
    """An Endpoints object per Service with a selector: ready pods as addresses, the others as not ready."""
    selector = (svc.get("spec") or {}).get("selector")
    if not selector:
        return
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    pods = c.store.list(POD, ns, label_matcher(selector))

    def address(p: dict) -> dict:
        return {
            "ip": p["status"].get("podIP", pod_ip(p)),
            "nodeName": NODE,
            "targetRef": {
                "kind": "Pod",
                "namespace": ns,
                "name": p["metadata"]["name"],
                "uid": p["metadata"]["uid"],
            },
        }

    subset: dict = {}
    if ready := [address(p) for p in pods if _ready(p)]:
        subset["addresses"] = ready
    if not_ready := [address(p) for p in pods if not _ready(p)]:
        subset["notReadyAddresses"] = not_ready
    ports = [
        {
            k: v
            for k, v in {
                "name": p.get("name"),
                "port": p.get("targetPort", p.get("port")),
                "protocol": p.get("protocol", "TCP"),
            }.items()
            if v is not None
        }
        for p in svc["spec"].get("ports") or []
    ]
    subsets = [dict(subset, ports=ports)] if subset else []
    current = c.store.get(EP, ns, name)
    if current is None:
        c.create(
            EP,
            {
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": dict(svc["metadata"].get("labels") or {}),
                },
                "subsets": subsets,
            },
            c.now(),
        )
    elif current.get("subsets", []) != subsets:
        current["subsets"] = subsets
        c.write(EP, current)
