"""The Swarm rules, pure: a spec's image and env, what a plan changes, the update and rollback configs in
words, a spec as the bot records it, and where an update stands by its tasks and ``UpdateStatus``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bot.strategies.base import Progress, Revision
from bot.strategies.versions import CREDENTIAL

Obj = dict[str, Any]
NANO = 1_000_000_000
DONE = ("completed", "rollback_completed")
PAUSED = ("paused", "rollback_paused")
HIDDEN = "sha256:"  # a recorded credential value: only its hash
MANUAL = "manually requested rollback"  # the Engine's UpdateStatus message of a rollback someone asked for


def container(spec: Obj) -> Obj:
    return (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}


def image(spec: Obj) -> str:
    """The image without the digest the CLI pins (``name:tag@sha256:…`` → ``name:tag``)."""
    return str(container(spec).get("Image", "")).split("@", 1)[0]


def env(spec: Obj) -> dict[str, str]:
    return dict(e.partition("=")[::2] for e in container(spec).get("Env") or [])


def replicas(spec: Obj) -> int:
    return int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)


def fingerprint(spec: Obj) -> dict[str, str]:
    """What a plan moves to, to compare later (the pre-checks' ``images`` and ``template``): the image, and a hash
    of the image and env."""
    both = json.dumps({"image": image(spec), "env": env(spec)}, sort_keys=True)
    return {"images": {"": image(spec)}, "template": hashlib.sha256(both.encode()).hexdigest()}


def recorded(spec: Obj) -> dict[str, str]:
    """A spec as the bot records it: image, env (a credential's value only as a hash), the update and rollback
    configs and the change cause."""
    values = {
        k: (HIDDEN + hashlib.sha256(v.encode()).hexdigest()[:16] if CREDENTIAL.search(k) else v)
        for k, v in env(spec).items()
    }
    return {
        "image": image(spec),
        "env": json.dumps(values, sort_keys=True),
        "update_config": json.dumps(spec.get("UpdateConfig") or {}, sort_keys=True),
        "rollback_config": json.dumps(spec.get("RollbackConfig") or {}, sort_keys=True),
        "change_cause": str((spec.get("Labels") or {}).get("change-cause", "")),
    }


def revision(number: int, data: dict[str, str], when=None) -> Revision:
    return Revision(
        number=number,
        image=data.get("image", ""),
        change_cause=data.get("change_cause", ""),
        created_at=when,
        name=f"spec {number}",
    )


def restored(live: Obj, data: dict[str, str]) -> tuple[Obj, list[str]]:
    """The live spec with the recorded image and env; a credential the bot holds only as a hash keeps its live
    value (the names of those it kept)."""
    spec = json.loads(json.dumps(live))
    now, kept, values = env(live), [], {}
    for k, v in json.loads(data.get("env") or "{}").items():
        if v.startswith(HIDDEN):
            if k in now and HIDDEN + hashlib.sha256(now[k].encode()).hexdigest()[:16] != v:
                kept.append(k)
            if k in now:
                values[k] = now[k]
            continue
        values[k] = v
    c = spec.setdefault("TaskTemplate", {}).setdefault("ContainerSpec", {})
    c["Image"], c["Env"] = data.get("image", ""), [f"{k}={v}" for k, v in values.items()]
    return spec, kept


def _seconds(ns: object) -> str:
    return f"{int(ns or 0) / NANO:g}s"


def config_words(config: Obj) -> str:
    """``parallelism 2, delay 1s, on failure pause, monitor 5s, max failure ratio 0, order stop-first``."""
    return (
        f"parallelism {config.get('Parallelism', 1)}, delay {_seconds(config.get('Delay'))}, on failure "
        f"{config.get('FailureAction') or 'pause'}, monitor {_seconds(config.get('Monitor'))}, max failure ratio "
        f"{config.get('MaxFailureRatio', 0)}, order {config.get('Order') or 'stop-first'}"
    )


def _shown(key: str, value: str | None) -> str:
    if value is None:
        return "(absent)"
    return "(a credential, not shown)" if CREDENTIAL.search(key) else json.dumps(value)


def changes(live: Obj, desired: Obj) -> list[str]:
    """The plan's lines: image, env, and the update config that differs."""
    lines = []
    if image(live) != image(desired):
        lines.append(f"image {image(live)} → {image(desired)}")
    before, after = env(live), env(desired)
    for key in sorted({*before, *after}):
        if before.get(key) != after.get(key):
            lines.append(f"env {key}: {_shown(key, before.get(key))} → {_shown(key, after.get(key))}")
    for name in ("UpdateConfig", "RollbackConfig"):
        if (live.get(name) or {}) != (desired.get(name) or {}):
            lines.append(f"{name}: {config_words(live.get(name) or {})} → {config_words(desired.get(name) or {})}")
    return lines


@dataclass(frozen=True)
class State:
    progress: Progress
    done: bool
    failure: str | None = None


def update_state(service: Obj, tasks: list[Obj], want_image: str, rollback: bool) -> State:
    """Where the update (or rollback) to ``want_image`` stands: running tasks on it, and ``UpdateStatus``."""
    spec = service.get("Spec") or {}
    desired = replicas(spec)
    live = [t for t in tasks if t.get("DesiredState") == "running"]
    running = sum(1 for t in live if (t.get("Status") or {}).get("State") == "running" and task_image(t) == want_image)
    version = Revision(0, want_image).version
    words = f"{running}/{desired} tasks running {version}"
    status = service.get("UpdateStatus") or {}
    state, message = status.get("State", ""), status.get("Message", "")
    progress = Progress(words, desired=desired, updated=running, available=running)
    if state in PAUSED:
        return State(
            progress,
            False,
            f"the Engine PAUSED the {'rollback' if state == 'rollback_paused' else 'update'}"
            f" (UpdateStatus {state}): {message}",
        )
    if state == "rollback_started" and message != MANUAL and not rollback:
        return State(progress, False, f"the Engine rolled the update back itself (UpdateStatus {state}): {message}")
    if image(spec) != want_image:
        return State(
            progress,
            False,
            f"the service's spec now runs {image(spec)}, not {want_image}: another update replaced this one",
        )
    finished = (state in DONE or not status) and running == desired
    if finished:
        return State(Progress(words, desired, running, running, done=True), True)
    return State(progress, False)


def task_image(task: Obj) -> str:
    return image(task.get("Spec") and {"TaskTemplate": task["Spec"]} or {})
