"""Swarm services as the Engine keeps them, and the tasks an update or a rollback moves through.

A service has a ``Spec``, a ``PreviousSpec`` (the spec before the last update), a ``Version.Index`` that every
write bumps and must name (``update out of sequence`` otherwise), and an ``UpdateStatus``. An update (or a
rollback) replaces the tasks slot by slot, ``Parallelism`` at a time with ``Delay`` between batches; a batch's
new tasks run after their image's ``ready_after``. An image that crash-loops fails its first batch: with
``FailureAction: pause`` the update is ``paused`` (a rollback ``rollback_paused``) with the Engine's message;
with ``rollback`` an update rolls itself back. Everything is computed from the SimClock when read.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field

from bot.sandbox.clock import SimClock
from bot.sandbox.scenario import Scenario

NODES = ("swarm-manager-1", "swarm-worker-1", "swarm-worker-2")
NANO = 1_000_000_000


class EngineError(Exception):
    """An error the Engine answers: its HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def ident(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:25]


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Rollout:
    """One update or rollback: from ``old`` to ``new``, started at ``started`` (SimClock seconds)."""

    old: dict
    new: dict
    started: float
    rollback: bool = False
    manual: bool = True  # a rollback asked for (``docker service rollback``), not one the failure action started
    paused_by: str = ""  # a rollback the failure action started after this task failed


@dataclass
class Service:
    id: str
    spec: dict
    created: float
    index: int = 10
    previous: dict | None = None
    rollout: Rollout | None = None
    updated: float = 0.0
    generation: int = 0  # bumped by each rollout: new task IDs
    status_override: dict = field(default_factory=dict)


class Swarm:
    """The services of one swarm; thread-safe. ``tasks`` and ``status`` follow the clock."""

    def __init__(self, scenario: Scenario, clock: SimClock) -> None:
        self.scenario, self.clock = scenario, clock
        self._lock = threading.Lock()
        self._services: dict[str, Service] = {}
        self._index = 10

    # -- writing ----------------------------------------------------------------------------------

    def _bump(self) -> int:
        self._index += 1
        return self._index

    def create(self, spec: dict, previous: dict | None = None, age_seconds: float = 0.0) -> Service:
        with self._lock:
            now = self.clock.now()
            svc = Service(
                ident("service", spec["Name"]),
                copy.deepcopy(spec),
                now - age_seconds - 60,
                self._bump(),
                copy.deepcopy(previous),
                updated=now - age_seconds,
            )
            self._services[svc.id] = svc
            return svc

    def find(self, ref: str) -> Service:
        """A service by ID, ID prefix or name (as the Engine resolves them)."""
        with self._lock:
            return self._find(ref)

    def _find(self, ref: str) -> Service:
        for svc in self._services.values():
            if ref in (svc.id, svc.spec.get("Name")):
                return svc
        prefixed = [s for s in self._services.values() if ref and s.id.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        raise EngineError(404, f"service {ref} not found")

    def services(self) -> list[Service]:
        with self._lock:
            return list(self._services.values())

    def update(self, ref: str, version: str | None, spec: dict, rollback: bool = False) -> list[str]:
        """``POST /services/{id}/update``: guarded by ``version``; ``rollback``: back to ``PreviousSpec``."""
        with self._lock:
            svc = self._find(ref)
            if version is None or not version.isdigit():
                raise EngineError(400, "invalid service version")
            if int(version) != svc.index:
                raise EngineError(500, "rpc error: code = Unknown desc = update out of sequence")
            if rollback and svc.previous is None:
                raise EngineError(
                    500, f"rpc error: code = FailedPrecondition desc = service {svc.id} does not have a previous spec"
                )
            new = copy.deepcopy(svc.previous if rollback else spec)
            self._start(svc, new, rollback=rollback, manual=True)
            return []

    def _start(self, svc: Service, new: dict, rollback: bool, manual: bool, paused_by: str = "") -> None:
        now = self.clock.now()
        old = svc.spec
        replicas_only = _template(old) == _template(new) and not rollback
        svc.previous, svc.spec = copy.deepcopy(old), new
        svc.index, svc.updated = self._bump(), now
        if replicas_only and svc.rollout is None:
            return  # a scale: no rolling update of the tasks
        svc.generation += 1
        svc.rollout = Rollout(old, new, now, rollback=rollback, manual=manual, paused_by=paused_by)

    # -- reading ----------------------------------------------------------------------------------

    def _behaviour(self, spec: dict):
        container = _template(spec).get("ContainerSpec") or {}
        env = dict(e.split("=", 1) for e in container.get("Env") or [] if "=" in e)
        return self.scenario.behaviour(container.get("Image", ""), env)

    def state(self, svc: Service) -> tuple[list[dict], dict | None]:
        """The service's tasks and its ``UpdateStatus`` now (None: never updated)."""
        with self._lock:
            return self._state(svc)

    def _state(self, svc: Service) -> tuple[list[dict], dict | None]:
        now = self.clock.now()
        replicas = _replicas(svc.spec)
        r = svc.rollout
        if r is None:
            return [self._task(svc, i, svc.spec, "running", svc.updated, svc.generation) for i in range(replicas)], None
        config = (r.old if r.rollback else r.new).get("RollbackConfig" if r.rollback else "UpdateConfig") or {}
        parallelism = max(1, int(config.get("Parallelism") or 1))
        delay = int(config.get("Delay") or 0) / NANO
        behaviour = self._behaviour(r.new)
        step = behaviour.ready_after + delay
        tasks, failed = [], None
        monitor = int(config.get("Monitor") or 0) / NANO  # the Engine watches the last tasks this long first
        last = r.started + ((replicas - 1) // parallelism) * step + behaviour.ready_after + monitor
        last_running = last if replicas else r.started
        for i in range(replicas):
            begun = r.started + (i // parallelism) * step
            if behaviour.crashloop and i >= parallelism:
                tasks.append(self._task(svc, i, r.old, "running", svc.updated, svc.generation - 1))
                continue
            if now < begun:
                tasks.append(self._task(svc, i, r.old, "running", r.started, svc.generation - 1))
            elif behaviour.crashloop:
                state = "failed" if now >= begun + behaviour.ready_after else "starting"
                task = self._task(svc, i, r.new, state, begun, svc.generation)
                if state == "failed":
                    task["Status"].update(Err="task: non-zero exit (1)", Message="started")
                    failed = failed or (task, begun + behaviour.ready_after)
                tasks.append(task)
            else:
                running = now >= begun + behaviour.ready_after
                tasks.append(self._task(svc, i, r.new, "running" if running else "starting", begun, svc.generation))
        return tasks, self._status(svc, r, tasks, failed, last_running, config)

    def _status(self, svc: Service, r: Rollout, tasks: list[dict], failed, finished: float, config: dict) -> dict:
        now = self.clock.now()
        kind = "rollback" if r.rollback else "update"
        started = iso(r.started)
        if failed:
            task, when = failed
            if (config.get("FailureAction") or "pause") == "rollback" and not r.rollback:
                self._start(svc, copy.deepcopy(r.old), rollback=True, manual=False, paused_by=task["ID"])
                return self._state(svc)[1]
            if (config.get("FailureAction") or "pause") in ("pause", "rollback"):
                state = "rollback_paused" if r.rollback else "paused"
                return {
                    "State": state,
                    "StartedAt": started,
                    "Message": f"{kind} paused due to failure or early termination of task {task['ID']}",
                }
        if now >= finished and not failed:
            state = "rollback_completed" if r.rollback else "completed"
            return {
                "State": state,
                "StartedAt": started,
                "CompletedAt": iso(finished),
                "Message": "rollback completed" if r.rollback else "update completed",
            }
        if r.rollback:
            why = (
                "manually requested rollback"
                if r.manual
                else f"update rolled back due to failure or early termination of task {r.paused_by}"
            )
            return {"State": "rollback_started", "StartedAt": started, "Message": why}
        return {"State": "updating", "StartedAt": started, "Message": "update in progress"}

    def _task(self, svc: Service, slot: int, spec: dict, state: str, since: float, generation: int) -> dict:
        node = NODES[slot % len(NODES)]
        return {
            "ID": ident("task", svc.id, slot, generation),
            "Version": {"Index": svc.index},
            "CreatedAt": iso(since),
            "UpdatedAt": iso(since),
            "Spec": copy.deepcopy(_template(spec)),
            "ServiceID": svc.id,
            "Slot": slot + 1,
            "NodeID": ident("node", node),
            "Status": {
                "Timestamp": iso(since),
                "State": state,
                "Message": state,
                "ContainerStatus": {"ContainerID": ident("container", svc.id, slot, generation)},
            },
            "DesiredState": "running",
        }


def _template(spec: dict) -> dict:
    return spec.get("TaskTemplate") or {}


def _replicas(spec: dict) -> int:
    return int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)
