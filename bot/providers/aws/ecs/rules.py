"""The ECS rules, pure: which revision is "previous", what a plan changes (images, env), and when a deployment
has reached a steady state or failed, read from ``describe_services`` as ECS reports it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.strategies.base import Progress
from bot.strategies.versions import CREDENTIAL

Obj = dict[str, Any]


def family_revision(arn_or_name: str) -> tuple[str, int]:
    """``("shop-web", 3)`` of ``arn:aws:ecs:…:task-definition/shop-web:3`` or ``shop-web:3``."""
    tail = arn_or_name.rsplit("/", 1)[-1]
    family, _, revision = tail.rpartition(":")
    return family, int(revision) if revision.isdigit() else 0


def container(task_definition: Obj, name: str = "") -> Obj:
    """The named container of a task definition; without a name, its first essential one (else its first)."""
    containers = task_definition.get("containerDefinitions") or [{}]
    if name:
        return next((c for c in containers if c.get("name") == name), {})
    return next((c for c in containers if c.get("essential", True)), containers[0])


def images(task_definition: Obj) -> dict[str, str]:
    return {c.get("name", ""): c.get("image", "") for c in task_definition.get("containerDefinitions") or []}


def previous(current: int, revisions: list[int]) -> int | None:
    """The revision a rollback goes to by default: the newest one older than the live one."""
    older = [r for r in revisions if r < current]
    return max(older) if older else None


def _env(c: Obj) -> dict[str, tuple[str, bool]]:
    """A container's env: name -> (value, from a secret). A secret is named only by where it comes from."""
    values = {e.get("name", ""): (str(e.get("value", "")), False) for e in c.get("environment") or []}
    refs = {s.get("name", ""): (f"from {s.get('valueFrom', '')}", True) for s in c.get("secrets") or []}
    return {**values, **refs}


def _words(name: str, entry: tuple[str, bool], hide: bool) -> str:
    """``"email"``, ``from arn:…`` for a secret; a literal never when its name says it is a credential or it is
    a secret in the other revision."""
    value, secret = entry
    if secret:
        return value
    return "(a literal value, not shown)" if hide or CREDENTIAL.search(name) else json.dumps(value)


def changes(live: Obj, desired: Obj, live_rev: str, desired_rev: str) -> list[str]:
    """The plan's lines: each container's image and env, from the live task definition to the desired one."""
    lines = []
    live_by = {c.get("name", ""): c for c in live.get("containerDefinitions") or []}
    desired_by = {c.get("name", ""): c for c in desired.get("containerDefinitions") or []}
    for name in sorted(set(live_by) | set(desired_by)):
        was, will = live_by.get(name), desired_by.get(name)
        if was is None or will is None:
            lines.append(f"container {name}: {'added' if was is None else 'removed'} in {desired_rev}")
            continue
        if was.get("image") != will.get("image"):
            lines.append(f"container {name}: image {was.get('image')} → {will.get('image')}")
        old_env, new_env = _env(was), _env(will)
        for key in sorted(set(old_env) | set(new_env)):
            before, after = old_env.get(key), new_env.get(key)
            hide = any(e and e[1] for e in (before, after))
            if before is None:
                lines.append(f"container {name}: env {key} added: {_words(key, after, hide)}")
            elif after is None:
                lines.append(f"container {name}: env {key} removed (was {_words(key, before, hide)})")
            elif before != after:
                lines.append(f"container {name}: env {key}: {_words(key, before, hide)} → {_words(key, after, hide)}")
    for key in ("cpu", "memory", "taskRoleArn", "executionRoleArn"):
        if live.get(key) != desired.get(key):
            lines.append(f"task {key}: {live.get(key) or 'none'} → {desired.get(key) or 'none'} ({live_rev} → "
                         f"{desired_rev})")
    return lines


@dataclass(frozen=True)
class State:
    """Where a deployment to the desired task definition is: the progress, whether it is steady, and a failure
    in words (the circuit breaker stopped it, another deployment replaced it)."""

    progress: Progress
    done: bool
    failure: str | None = None


def deployment_state(service: Obj, desired_arn: str) -> State:
    """By ECS's own words: steady when the PRIMARY deployment runs the desired task definition, it is the only
    deployment left, and its running count equals its desired count (rolloutState COMPLETED, when reported);
    failed when a deployment of the desired task definition is FAILED (the deployment circuit breaker)."""
    deployments = service.get("deployments") or []
    _, want = family_revision(desired_arn)
    failed = next((d for d in deployments if d.get("taskDefinition") == desired_arn
                   and d.get("rolloutState") == "FAILED"), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    running, desired = primary.get("runningCount") or 0, primary.get("desiredCount") or 0
    old = sum(d.get("runningCount") or 0 for d in deployments if d is not primary)
    words = f"{running}/{desired} tasks running on revision {family_revision(primary.get('taskDefinition', ''))[1]}"
    words += f", {old} old still running" if old else ""
    progress = Progress(words, desired=desired, updated=running, available=running)
    if failed is not None:
        back = primary.get("taskDefinition") != desired_arn and primary
        after = (f"ECS rolled the service back to revision {family_revision(back['taskDefinition'])[1]}"
                 if back else "the service stays on what still runs")
        reason = (failed.get("rolloutStateReason") or "tasks failed to start").rstrip(".")
        return State(progress, False, f"the ECS deployment circuit breaker stopped the deployment of revision "
                                      f"{want} ({reason}; {failed.get('failedTasks') or 0} tasks failed); {after}")
    if primary.get("taskDefinition") != desired_arn:
        _, other = family_revision(primary.get("taskDefinition", ""))
        return State(progress, False, f"another deployment (revision {other}) replaced the rollback to revision {want}")
    steady = len(deployments) == 1 and running == desired and primary.get("rolloutState", "COMPLETED") == "COMPLETED"
    done = Progress(words, desired=desired, updated=running, available=running, done=True) if steady else progress
    return State(done, steady)


def breaker(service: Obj) -> Obj:
    return ((service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")) or {}
