"""Object helpers shared by the controllers: defaulting, the pod-template hash, revisions, owners, time."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math

from . import managed

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# Deployment annotations the controller does not copy onto ReplicaSets (deployment/util.go).
NOT_COPIED = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float:
    if not text:
        return 0.0
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def prune(value):
    """Drop nulls and empty maps/lists: the API server's semantic equality treats them as absent."""
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def without_hash(template: dict) -> dict:
    t = copy.deepcopy(template)
    labels = t.get("metadata", {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    return prune(t)


def templates_equal(a: dict, b: dict) -> bool:
    """deploymentutil.EqualIgnoreHash."""
    return without_hash(a) == without_hash(b)


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    return "".join(SAFE_ALPHANUMS[ord(c) % len(SAFE_ALPHANUMS)] for c in text)


def template_hash(template: dict, collision_count: int = 0) -> str:
    """Stable hash of the template without the hash label, encoded like controller.ComputeHash."""
    data = json.dumps(without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    return safe_encode(str(_fnv32a(data + (str(collision_count).encode() if collision_count else b""))))


def revision(obj: dict) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def owned_by(obj: dict, owner: dict) -> bool:
    uid = owner["metadata"]["uid"]
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in obj["metadata"].get("ownerReferences") or []
    )


def owner_ref(owner: dict) -> dict:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def scaled(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    raw = int(text[:-1]) * total / 100
    return math.ceil(raw) if round_up else math.floor(raw)


def default_pod_spec(spec: dict) -> None:
    """The defaults the API server fills into a pod template, so templates compare as the server's do."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        image = c.get("image", "")
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        c.setdefault("imagePullPolicy", "IfNotPresent" if tagged else "Always")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            p.setdefault("protocol", "TCP")


def default_deployment(d: dict) -> None:
    spec = d.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy["type"] = "RollingUpdate"
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxSurge", "25%")
        ru.setdefault("maxUnavailable", "25%")
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    default_pod_spec(template.setdefault("spec", {}))
    d.setdefault("status", {})


def stamp_manager(obj: dict, res, manager: str, when: str, before: dict | None = None) -> None:
    """Record in ``metadata.managedFields`` that ``manager`` wrote ``obj`` over ``before`` (None: created it)
    at ``when``, as the API server's field manager does (``managed.updated``)."""
    if not manager:
        return
    meta = obj.setdefault("metadata", {})
    meta.pop("managedFields", None)
    entries = managed.updated(before, obj, manager, res.api_version, when)
    if entries:
        meta["managedFields"] = entries
