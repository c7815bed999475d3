"""Pure rules of ``kubectl rollout history|undo|status`` on plain API JSON (camelCase dicts).

Kept free of I/O so every rule can be unit-tested against kubectl's source
(``kubectl/pkg/polymorphichelpers/rollback.go``, ``history.go``, ``rollout_status.go``
and ``kubectl/pkg/util/deployment``).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from bot.strategies.base import Progress, RollbackError

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
MIGRATION_ANNOTATION = "rollback-bot/db-migration"
# rollback.go: annotations the rollback keeps from the Deployment instead of copying from the ReplicaSet.
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
# Env var names whose change between revisions hints at a schema migration.
MIGRATION_ENV_HINTS = ("SCHEMA_VERSION", "MIGRATION")

Obj = dict[str, Any]


def parse_time(value: str | None) -> dt.datetime | None:
    """An API timestamp (``2026-11-22T03:04:05Z``) as an aware datetime."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def annotations(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def revision_of(obj: Obj) -> int | None:
    """deploymentutil.Revision: the revision annotation as an int; ``None`` when absent or unparsable."""
    try:
        return int(annotations(obj)[REVISION])
    except (KeyError, ValueError):
        return None


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector(...).Matches(labels); an empty selector matches nothing (as kubectl)."""
    selector = selector or {}
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in expressions:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op, False)
        if not ok:
            return False
    return True


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    """metav1.IsControlledBy: a controller ownerReference carrying the owner's uid."""
    uid = (owner.get("metadata") or {}).get("uid")
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("controller") and ref.get("uid") == uid for ref in refs)


def owned_replicasets(deployment: Obj, replicasets: list[Obj]) -> list[Obj]:
    """deploymentutil.listReplicaSets: selector match AND controlled by the deployment."""
    selector = (deployment.get("spec") or {}).get("selector")
    return [
        rs
        for rs in replicasets
        if selector_matches(selector, (rs.get("metadata") or {}).get("labels") or {})
        and is_controlled_by(rs, deployment)
    ]


def _semantic(value: Any) -> Any:
    """Drop nulls and empty maps/lists: apimachinery's Semantic.DeepEqual treats nil and empty alike."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def template_without_hash(template: Obj) -> Obj:
    """A copy of a pod template without the ``pod-template-hash`` label."""
    template = copy.deepcopy(template or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return template


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """deploymentutil.EqualIgnoreHash."""
    return _semantic(template_without_hash(a)) == _semantic(template_without_hash(b))


def template_print(template: Obj) -> dict:
    """What a pod template runs: each container's image, and a hash of the whole template (compared as
    ``equal_ignore_hash`` compares), so a change of env or resources shows too."""
    spec = (template or {}).get("spec") or {}
    every = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    canonical = json.dumps(_semantic(template_without_hash(template)), sort_keys=True, separators=(",", ":"))
    return {
        "images": {c.get("name", ""): c.get("image", "") for c in every},
        "template": hashlib.sha256(canonical.encode()).hexdigest()[:16],
    }


def rs_template(rs: Obj) -> Obj:
    return (rs.get("spec") or {}).get("template") or {}


def deployment_template(deployment: Obj) -> Obj:
    return (deployment.get("spec") or {}).get("template") or {}


def find_new_replicaset(deployment: Obj, owned: list[Obj]) -> Obj | None:
    """deploymentutil.FindNewReplicaSet: the oldest owned RS whose template matches the deployment's."""
    by_age = sorted(owned, key=lambda rs: (rs.get("metadata") or {}).get("creationTimestamp") or "")
    return next(
        (rs for rs in by_age if equal_ignore_hash(rs_template(rs), deployment_template(deployment))), None
    )


def name_of(deployment: Obj) -> str:
    meta = deployment.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def select_revision(
    deployment: Obj, owned: list[Obj], to_revision: int | None, number: Callable[[Obj], int | None] = revision_of
) -> Obj:
    """rollback.go deploymentRevision: the RS of ``to_revision``, or of the second-highest revision.

    ``None`` and 0 mean "previous", as ``kubectl rollout undo`` without ``--to-revision``. ``number``
    reads an owned object's revision (a StatefulSet's ControllerRevisions carry it in ``revision``).
    """
    numbered = [(rev, rs) for rs in owned if (rev := number(rs)) is not None]
    available = ", ".join(str(n) for n in sorted({rev for rev, _ in numbered})) or "none"
    if to_revision:
        for rev, rs in numbered:
            if rev == to_revision:
                return rs
        raise RollbackError(
            f"revision {to_revision} not found in the rollout history of {name_of(deployment)}; "
            f"available: {available}"
        )
    ordered = sorted(numbered, key=lambda pair: pair[0], reverse=True)
    if len(ordered) < 2:
        raise RollbackError(
            f"{name_of(deployment)} has no previous revision to roll back to (rollout history: {available})"
        )
    return ordered[1][1]


def rollback_annotations(deployment: Obj, rs: Obj) -> dict[str, str]:
    """rollback.go: skip-listed annotations stay as the Deployment has them; the RS's others are copied."""
    current = annotations(deployment)
    result = {k: current[k] for k in ANNOTATIONS_TO_SKIP if k in current}
    result.update({k: v for k, v in annotations(rs).items() if k not in ANNOTATIONS_TO_SKIP})
    return result


def rollback_patch(deployment: Obj, rs: Obj, guard: str) -> list[Obj]:
    """kubectl's getDeploymentPatch, preceded by our ``test`` of the resourceVersion the plan was made on.

    kubectl replaces ``/metadata/annotations``; JSON Patch ``replace`` needs the member to exist,
    so a Deployment without annotations gets ``add`` (same result).
    """
    has_annotations = "annotations" in (deployment.get("metadata") or {})
    return [
        {"op": "test", "path": "/metadata/resourceVersion", "value": guard},
        {"op": "replace", "path": "/spec/template", "value": template_without_hash(rs_template(rs))},
        {
            "op": "replace" if has_annotations else "add",
            "path": "/metadata/annotations",
            "value": rollback_annotations(deployment, rs),
        },
    ]


def containers(template: Obj) -> list[Obj]:
    return (template.get("spec") or {}).get("containers") or []


def container_image(template: Obj, container: str = "") -> str:
    """Image of the named container, or of the first one when no name is given or it is absent."""
    found = containers(template)
    for c in found:
        if c.get("name") == container:
            return c.get("image", "")
    return found[0].get("image", "") if found else ""


def describe_changes(
    current: Obj, desired: Obj, current_rev: int, desired_rev: int, next_rev: int
) -> list[str]:
    """Human lines for the dry run: one per changed image, then the revision move."""
    lines = []
    before = {c.get("name"): c.get("image", "") for c in containers(current)}
    for c in containers(desired):
        old, new = before.get(c.get("name"), "(none)"), c.get("image", "")
        if old != new:
            lines.append(f"image {c.get('name')}: {old} -> {new}")
    lines.append(f"revision {current_rev} -> {desired_rev} (becomes revision {next_rev})")
    return lines


def _env(template: Obj) -> dict[str, str]:
    return {
        f"{c.get('name')}.{e.get('name')}": str(e.get("value", ""))
        for c in containers(template)
        for e in c.get("env") or []
    }


def migration_warnings(current_rs: Obj | None, current: Obj, desired_rs: Obj) -> list[str]:
    """Warn when the revisions look like they straddle a DB schema migration.

    Hints: the ``rollback-bot/db-migration`` annotation (on a ReplicaSet or its pod template)
    differs between the live and the target revision, or an env var whose name contains
    SCHEMA_VERSION or MIGRATION differs. Rolling code back does not roll the schema back.
    """

    def marker(rs: Obj | None, template: Obj) -> str:
        meta = template.get("metadata") or {}
        return (meta.get("annotations") or {}).get(MIGRATION_ANNOTATION) or annotations(rs or {}).get(
            MIGRATION_ANNOTATION, ""
        )

    warnings = []
    live, target = marker(current_rs, current), marker(desired_rs, rs_template(desired_rs))
    if live != target:
        warnings.append(
            f"database migration between these revisions ({MIGRATION_ANNOTATION}: "
            f"{live or 'none'} live, {target or 'none'} in the target); rolling back the code does not "
            "roll back the schema: check the old version works with the current schema, or restore a backup"
        )
    env_now, env_then = _env(current), _env(rs_template(desired_rs))
    for key in sorted(set(env_now) | set(env_then)):
        if any(h in key.upper() for h in MIGRATION_ENV_HINTS) and env_now.get(key) != env_then.get(key):
            warnings.append(
                f"env {key} changes {env_now.get(key, '(unset)')} -> {env_then.get(key, '(unset)')}: "
                "a schema migration may separate these revisions; rolling back does not undo it"
            )
    return warnings


def rollout_status(deployment: Obj | Any) -> tuple[bool, str, bool]:
    """rollout_status.go DeploymentStatusViewer.Status -> (done, kubectl's message, failed)."""
    if not isinstance(deployment, dict):  # a V1Deployment model
        from kubernetes.client import ApiClient

        deployment = ApiClient().sanitize_for_serialization(deployment)
    meta, spec, status = (deployment.get(k) or {} for k in ("metadata", "spec", "status"))
    name = meta.get("name", "")
    if (meta.get("generation") or 0) > (status.get("observedGeneration") or 0):
        return False, "Waiting for deployment spec update to be observed...", False
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == TIMED_OUT_REASON:
            return False, f'deployment "{name}" exceeded its progress deadline', True
    replicas = spec.get("replicas")
    updated = status.get("updatedReplicas") or 0
    total = status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if replicas is not None and updated < replicas:
        return False, waiting + f"{updated} out of {replicas} new replicas have been updated...", False
    if total > updated:
        return False, waiting + f"{total - updated} old replicas are pending termination...", False
    if available < updated:
        return False, waiting + f"{available} of {updated} updated replicas are available...", False
    return True, f'deployment "{name}" successfully rolled out', False


def progress_of(deployment: Obj) -> Progress:
    """The rollout status as a short line for a phone screen: "2/3 new replicas available"."""
    done, message, failed = rollout_status(deployment)
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = spec.get("replicas") or 0
    updated = status.get("updatedReplicas") or 0
    old = max(0, (status.get("replicas") or 0) - updated)
    # availableReplicas counts old pods too; assume those are available (a lower bound for the new ones).
    available = max(0, min(updated, (status.get("availableReplicas") or 0) - old))
    if failed:
        text = f"rollout stuck: {available}/{desired} new replicas available, progress deadline exceeded"
    elif done:
        text = f"rolled out: {available}/{desired} new replicas available"
    elif message.startswith("Waiting for deployment spec"):
        text = "waiting for the cluster to pick up the change"
    else:
        text = f"{available}/{desired} new replicas available"
        if updated < desired:
            text += f", {updated}/{desired} created"
        if old:
            text += f", {old} old pending termination"
    return Progress(message=text, desired=desired, updated=updated, available=available, done=done)
