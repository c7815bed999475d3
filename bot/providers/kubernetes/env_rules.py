"""Pure rules of the env-only rollback and of the ConfigMaps and Secrets a pod template names.

An env-only rollback is the runbook's ``FEATURE_FLAG_*`` patch: the env of an earlier revision,
everything else (the image first) as live. A plain undo also restores the names of the
ConfigMaps and Secrets the pods read; with hash-named ones (kustomize's ``configMapGenerator``)
that is a different object, which must still exist for the pods to start.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Iterator
from typing import NamedTuple

from bot.providers.kubernetes.rollout_rules import CHANGE_CAUSE, Obj, containers, rs_template, template_without_hash
from bot.strategies.base import Plan
from bot.strategies.versions import CREDENTIAL

ENV_KEYS = ("env", "envFrom")
# kustomize appends "-" and a hash of the content (10 characters; shorter ones seen in hand-made names).
HASH_SUFFIX = re.compile(r"^(?P<base>.+)-(?P<hash>[a-z0-9]{5,10})$")


def _entries(container: Obj) -> dict[str, Obj]:
    return {e.get("name", ""): e for e in container.get("env") or []}


def _secret(entry: Obj | None) -> bool:
    return bool(entry) and bool((entry.get("valueFrom") or {}).get("secretKeyRef"))


def value_words(entry: Obj | None, hide: bool = False) -> str:
    """How a value is shown: ``"false"``, or where it comes from; a Secret's value never, nor a literal one
    when ``hide`` (the var is a Secret in the other revision, or its name says it is a credential)."""
    if entry is None:
        return "(unset)"
    source = entry.get("valueFrom")
    if not source:
        return "(a literal value, not shown)" if hide else json.dumps(str(entry.get("value", "")))
    for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        if ref := source.get(key):
            return f"from {kind} {ref.get('name', '?')} key {ref.get('key', '?')}"
    if ref := source.get("fieldRef"):
        return f"from field {ref.get('fieldPath', '?')}"
    if ref := source.get("resourceFieldRef"):
        return f"from resource {ref.get('resource', '?')}"
    return "from another source"


def _from_words(sources: list[Obj]) -> str:
    words = []
    for s in sources:
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if ref := s.get(key):
                words.append(f"{s.get('prefix', '')}{kind} {ref.get('name', '?')}")
    return ", ".join(words) or "(none)"


def pairs(live: Obj, target: Obj) -> Iterator[tuple[int, Obj, Obj]]:
    """(index, live container, the target's container of the same name), for the containers both have."""
    wanted = {c.get("name"): c for c in containers(target)}
    for i, c in enumerate(containers(live)):
        if (other := wanted.get(c.get("name"))) is not None:
            yield i, c, other


def env_changes(live: Obj, target: Obj) -> list[str]:
    """One line per env var (and ``envFrom`` list) that differs, container by container, in env order."""
    lines = []
    several = len(containers(live)) > 1
    for _, c, other in pairs(live, target):
        prefix = f"env {c.get('name')}/" if several else "env "
        now, then = _entries(c), _entries(other)
        for name in [*now, *(n for n in then if n not in now)]:
            a, b = now.get(name), then.get(name)
            if a != b:
                hide = _secret(a) or _secret(b) or bool(CREDENTIAL.search(name))
                lines.append(f"{prefix}{name}: {value_words(a, hide)} → {value_words(b, hide)}")
        if (c.get("envFrom") or []) != (other.get("envFrom") or []):
            lines.append(
                f"{prefix.replace('env', 'envFrom', 1).rstrip('/ ')}: "
                f"{_from_words(c.get('envFrom') or [])} → {_from_words(other.get('envFrom') or [])}"
            )
    return lines


def changed_names(live: Obj, target: Obj) -> list[str]:
    """The env var names an env-only rollback reverts (``FEATURE_FLAG_X``), for short summaries."""
    names: list[str] = []
    for _, c, other in pairs(live, target):
        now, then = _entries(c), _entries(other)
        names += [n for n in [*now, *(n for n in then if n not in now)] if now.get(n) != then.get(n)]
        if (c.get("envFrom") or []) != (other.get("envFrom") or []):
            names.append("envFrom")
    return list(dict.fromkeys(names))


def env_only_template(live: Obj, target: Obj) -> Obj:
    """The live pod template with each container's env and envFrom taken from the target's same-named one."""
    result = template_without_hash(live)
    for _, c, other in pairs(result, target):
        for key in ENV_KEYS:
            if other.get(key):
                c[key] = copy.deepcopy(other[key])
            else:
                c.pop(key, None)
    return result


def env_only_patch(deployment: Obj, target: Obj, guard: str, cause: str) -> list[Obj]:
    """The env and envFrom of each container that differs, and the change-cause, after the same ``test`` of
    the resourceVersion the undo sends: the image and every other field are never in the patch."""
    ops: list[Obj] = [{"op": "test", "path": "/metadata/resourceVersion", "value": guard}]
    live = (deployment.get("spec") or {}).get("template") or {}
    for i, c, other in pairs(live, target):
        for key in ENV_KEYS:
            before, after = c.get(key) or [], other.get(key) or []
            path = f"/spec/template/spec/containers/{i}/{key}"
            if before != after and after:  # JSON Patch "add" replaces a member that exists
                ops.append({"op": "add", "path": path, "value": copy.deepcopy(after)})
            elif before != after:
                ops.append({"op": "remove", "path": path})
    if "annotations" in (deployment.get("metadata") or {}):
        ops.append({"op": "add", "path": "/metadata/annotations/" + CHANGE_CAUSE.replace("/", "~1"), "value": cause})
    else:
        ops.append({"op": "add", "path": "/metadata/annotations", "value": {CHANGE_CAUSE: cause}})
    return ops


def env_equal(live: Obj, target: Obj) -> bool:
    """Each container of the live template has the env and envFrom of the target's same-named container."""
    return all((c.get(k) or []) == (other.get(k) or []) for _, c, other in pairs(live, target) for k in ENV_KEYS)


# ---------------------------------------------------------------- ConfigMaps and Secrets a template names


class Ref(NamedTuple):
    kind: str  # "ConfigMap" or "Secret"
    name: str
    optional: bool = False

    @property
    def resource(self) -> str:
        return self.kind.lower()


def config_refs(template: Obj) -> set[Ref]:
    """Every ConfigMap and Secret the pods read: envFrom, env valueFrom, volumes (projected too)."""
    spec = template.get("spec") or {}
    refs: set[Ref] = set()

    def add(kind: str, ref: Obj | None, name_key: str = "name") -> None:
        if ref and ref.get(name_key):
            refs.add(Ref(kind, ref[name_key], bool(ref.get("optional"))))

    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for s in c.get("envFrom") or []:
            add("ConfigMap", s.get("configMapRef"))
            add("Secret", s.get("secretRef"))
        for e in c.get("env") or []:
            source = e.get("valueFrom") or {}
            add("ConfigMap", source.get("configMapKeyRef"))
            add("Secret", source.get("secretKeyRef"))
    for v in spec.get("volumes") or []:
        add("ConfigMap", v.get("configMap"))
        add("Secret", v.get("secret"), "secretName")
        for s in (v.get("projected") or {}).get("sources") or []:
            add("ConfigMap", s.get("configMap"))
            add("Secret", s.get("secret"))
    return refs


def _base(name: str) -> str:
    m = HASH_SUFFIX.match(name)
    return m["base"] if m and any(ch.isdigit() for ch in m["hash"]) else name


def restored_refs(live: Obj, target: Obj) -> list[tuple[Ref | None, Ref]]:
    """ConfigMaps and Secrets the target names and the live template does not, each paired with the live one
    it replaces (same kind, same name but for a hash suffix), or ``None``."""
    now, then = config_refs(live), config_refs(target)
    now_names = {(r.kind, r.name) for r in now}
    out = []
    for ref in sorted(then, key=lambda r: (r.kind, r.name)):
        if (ref.kind, ref.name) in now_names:
            continue
        pair = next(
            (r for r in sorted(now) if r.kind == ref.kind and _base(r.name) == _base(ref.name) and r.name != ref.name),
            None,
        )
        out.append((pair, ref))
    return out


def ref_lines(pairs: list[tuple[Ref | None, Ref]], namespace: str) -> list[str]:
    """The plan's lines for the config the undo restores: what it is, and that it must still exist."""
    lines = []
    for old, new in pairs:
        check = f"`kubectl get {new.resource} {new.name} -n {namespace}`"
        if old is not None:
            how = " (hash-named, as kustomize's configMapGenerator makes it)" if _base(new.name) != new.name else ""
            lines.append(
                f"{new.kind} {old.name} → {new.name}{how}: the undo restores the previous config with the pods; "
                f"it must still exist ({check})"
            )
        else:
            lines.append(f"{new.kind} {new.name} is read again by the restored pods; it must still exist ({check})")
    return lines


def missing_warning(ref: Ref, namespace: str, revision: int) -> str:
    """What the plan says when a ConfigMap the restored pods need is gone."""
    return (
        f"{ref.kind} {ref.name} no longer exists in namespace {namespace}: the pods of revision {revision} would "
        f"fail to start (CreateContainerConfigError) and the rollout would stall. Recreate it first (for a "
        f"kustomize configMapGenerator: `kubectl apply -k` the overlay of that release, or copy it from git), "
        f"or choose another revision"
    )


def env_only_plan(
    base: Plan, deployment: Obj, desired_rs: Obj, next_number: int, warnings: tuple[str, ...] = ()
) -> Plan:
    """The undo's plan (``base``) turned into the env-only one: the target's env, the live image kept.

    The desired revision keeps the number it restores the env of (a re-plan finds the same one) and
    carries the live image, which the verification then expects to see.
    """
    live, target = (deployment.get("spec") or {}).get("template") or {}, rs_template(desired_rs)
    source = base.desired
    assert source is not None
    desired = dataclasses.replace(source, image=base.current.image)
    common = dict(strategy=base.strategy, target=base.target, current=base.current, desired=desired, guard=base.guard)
    if env_equal(live, target):
        return Plan(**common, skipped=f"the env is already as in revision {source.number}")
    names = ", ".join(changed_names(live, target))
    container = next((c.get("name") for c in containers(live) if c.get("image") == base.current.image), "")
    cause = f"rollback-bot: env of revision {source.number} restored ({names}); image kept"
    return Plan(
        **common,
        changes=(
            *env_changes(live, target),
            f"image {container} stays {base.current.image}",
            f"revision {base.current.number} -> env of revision {source.number} (becomes revision {next_number})",
        ),
        warnings=warnings,
        summary=f"env only: {names} reverted; image kept",
        operations=tuple(env_only_patch(deployment, target, base.guard, cause)),
    )
