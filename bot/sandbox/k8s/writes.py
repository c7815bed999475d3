"""Create, replace, patch and delete with the API server's rules (preconditions, generation, subresources).

Callers hold ``cluster.store.lock``; every function returns a copy safe to serialise.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

from . import errors, jobs
from . import objects as o
from .patch import PatchError, json_patch, merge_patch, strategic_merge
from .resources import BY_PLURAL, Resource
from .selectors import selector_string
from .statefulsets import default_statefulset

if TYPE_CHECKING:
    from .cluster import Cluster

WITH_STATUS = {r.plural for r in BY_PLURAL.values() if "status" in r.subresources}
WITH_GENERATION = {"deployments", "replicasets", "statefulsets"}
JSON_PATCH, MERGE_PATCH = "application/json-patch+json", "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def _default(res: Resource, obj: dict) -> None:
    if res.plural == "deployments":
        o.default_deployment(obj)
    elif res.plural == "statefulsets":
        default_statefulset(obj)
    elif res.plural == "replicasets":
        o.default_pod_spec(obj.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {}))
    elif res.plural == "pods":
        o.default_pod_spec(obj.setdefault("spec", {}))
    elif res.plural == "services":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
    elif res.plural == "jobs":
        jobs.default_job(obj)
    elif res.plural == "secrets":
        obj.setdefault("type", "Opaque")


def _check_body(res: Resource, body, namespace: str | None) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
        raise errors.bad_request(f"the body of the request is not a {res.kind} object")
    if body.get("kind") not in (None, "", res.kind):
        raise errors.bad_request(f"the kind of the object ({body.get('kind')}) does not match {res.kind}")
    meta = body.setdefault("metadata", {})
    if res.namespaced:
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    return body


def create(
    c: Cluster, res: Resource, namespace: str | None, body, dry_run: bool = False, manager: str = ""
) -> dict:
    obj = _check_body(res, copy.deepcopy(body), namespace)
    meta = obj["metadata"]
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + "".join(c.rand.choice(o.SAFE_ALPHANUMS) for _ in range(5))
    if not meta.get("name"):
        raise errors.invalid(res, "", "metadata.name", "name or generateName is required")
    if res.namespaced and c.store.get(BY_PLURAL["namespaces"], None, meta["namespace"]) is None:
        raise errors.not_found(BY_PLURAL["namespaces"], meta["namespace"])
    for field in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"):
        meta.pop(field, None)
    if res.plural in WITH_STATUS:
        obj["status"] = {"phase": "Active"} if res.plural == "namespaces" else {}
    if res.plural in WITH_GENERATION:
        meta["generation"] = 1
    _default(res, obj)
    o.stamp_manager(obj, res, manager, o.iso(c.now()))
    if dry_run:
        return obj
    return copy.deepcopy(c.create(res, obj))


def _commit(
    c: Cluster, res: Resource, current: dict, new: dict, sub: str | None, dry_run: bool, manager: str = ""
) -> dict:
    """Store ``new`` over ``current``: identity kept, status only via /status, a no-op writes nothing."""
    if sub == "status":
        merged = copy.deepcopy(current)
        merged["status"] = new.get("status") or {}
    else:
        merged = copy.deepcopy(new)
        meta = merged.setdefault("metadata", {})
        for field in ("uid", "creationTimestamp", "namespace", "name", "generation"):
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
        merged["kind"], merged["apiVersion"] = res.kind, res.api_version
        if res.plural in WITH_STATUS:
            merged["status"] = copy.deepcopy(current.get("status") or {})
        _default(res, merged)
        if res.plural in WITH_GENERATION and o.prune(merged.get("spec")) != o.prune(current.get("spec")):
            meta["generation"] = current["metadata"].get("generation", 1) + 1
    merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    merged["metadata"]["managedFields"] = current["metadata"].get("managedFields")
    if not merged["metadata"]["managedFields"]:
        del merged["metadata"]["managedFields"]
    if merged == current or dry_run:
        return copy.deepcopy(merged)
    o.stamp_manager(merged, res, manager, o.iso(c.now()), before=current)
    return copy.deepcopy(c.write(res, merged))


def _precondition(res: Resource, current: dict, rv: str | None) -> None:
    if rv and rv != current["metadata"]["resourceVersion"]:
        raise errors.conflict(res, current["metadata"]["name"])


def scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": selector_string((obj["spec"].get("selector") or {}).get("matchLabels") or {}),
        },
    }


def _apply_scale(c: Cluster, res: Resource, current: dict, scale: dict, dry_run: bool) -> dict:
    _precondition(res, current, (scale.get("metadata") or {}).get("resourceVersion"))
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise errors.invalid(
            res,
            current["metadata"]["name"],
            "spec.replicas",
            f"{replicas}: must be greater than or equal to 0",
        )
    new = copy.deepcopy(current)
    new["spec"]["replicas"] = replicas
    return scale_of(_commit(c, res, current, new, None, dry_run))


def replace(
    c: Cluster,
    res: Resource,
    namespace: str | None,
    name: str,
    body,
    sub: str | None,
    dry_run: bool = False,
    manager: str = "",
) -> dict:
    current = c.store.require(res, namespace, name)
    if sub == "scale":
        return _apply_scale(c, res, current, body if isinstance(body, dict) else {}, dry_run)
    new = _check_body(res, copy.deepcopy(body), namespace)
    if new["metadata"].get("name") != name:
        raise errors.bad_request(
            f"the name of the object ({new['metadata'].get('name')}) does not match the name on "
            f"the URL ({name})"
        )
    _precondition(res, current, new["metadata"].get("resourceVersion"))
    return _commit(c, res, current, new, sub, dry_run, manager)


def patch(
    c: Cluster,
    res: Resource,
    namespace: str | None,
    name: str,
    content_type: str,
    raw: bytes,
    sub: str | None,
    dry_run: bool = False,
    manager: str = "",
) -> dict:
    current = c.store.require(res, namespace, name)
    doc = scale_of(current) if sub == "scale" else copy.deepcopy(current)
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from None
    kind = content_type.split(";")[0].strip()
    try:
        if kind == JSON_PATCH:
            result = json_patch(doc, body)
        elif kind == MERGE_PATCH:
            result = merge_patch(doc, body)
        elif kind == STRATEGIC_PATCH and not res.custom:
            result = strategic_merge(doc, body)
        else:
            raise errors.unsupported_media(
                f"{JSON_PATCH}, {MERGE_PATCH}" + ("" if res.custom else f", {STRATEGIC_PATCH}")
            )
    except PatchError as exc:
        raise errors.patch_rejected(str(exc)) from None
    if not isinstance(result, dict):
        raise errors.bad_request("the patch did not produce an object")
    if sub == "scale":
        return _apply_scale(c, res, current, result, dry_run)
    _precondition(res, current, (result.get("metadata") or {}).get("resourceVersion"))
    if (result.get("metadata") or {}).get("name") != name:
        raise errors.bad_request("metadata.name: the name of the object cannot be changed by a patch")
    return _commit(c, res, current, result, sub, dry_run, manager)


def delete(
    c: Cluster, res: Resource, namespace: str | None, name: str, options: dict, dry_run: bool = False
) -> dict:
    current = c.store.require(res, namespace, name)
    pre = options.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
        raise errors.ApiError(
            409,
            "Conflict",
            f"Precondition failed: UID in precondition: {pre['uid']}, UID in "
            f"object meta: {current['metadata']['uid']}",
            {"name": name, "kind": res.plural},
        )
    _precondition(res, current, pre.get("resourceVersion"))
    if dry_run:
        obj = copy.deepcopy(current)
    else:
        obj = copy.deepcopy(c.remove(res, namespace, name, options.get("propagationPolicy") or "Background"))
    if res.plural in ("pods", "services", "namespaces", "events"):
        return obj
    details = {"name": name, "kind": res.plural, "uid": obj["metadata"]["uid"]}
    if res.group:
        details["group"] = res.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
