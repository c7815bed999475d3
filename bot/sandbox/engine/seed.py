"""The scenario's Swarm services in the Engine simulator, and their running tasks as the service simulator's
pods (so the traffic, the health URL and Prometheus follow the image the tasks run)."""

from __future__ import annotations

from bot.sandbox.engine.model import NANO, EngineError, Service, Swarm
from bot.sandbox.scenario import Revision, ServiceSpec


def spec_of(svc: ServiceSpec, rev: Revision) -> dict:
    """A service spec as ``docker service create`` would write it, running ``rev``."""
    s = svc.swarm
    assert s is not None
    update = {
        "Parallelism": s.parallelism,
        "Delay": int(s.delay_seconds * NANO),
        "FailureAction": s.failure_action,
        "Monitor": int(s.monitor_seconds * NANO),
        "MaxFailureRatio": 0,
        "Order": "stop-first",
    }
    rollback = {**update, "FailureAction": s.rollback_failure_action}
    env = [f"{k}={v}" for k, v in rev.env.items()]
    return {
        "Name": svc.name,
        "Labels": {"com.docker.stack.namespace": "shop", "change-cause": rev.change_cause},
        "TaskTemplate": {
            "ContainerSpec": {"Image": rev.image, "Env": env, "Labels": {}, "StopGracePeriod": 10 * NANO},
            "Resources": {},
            "RestartPolicy": {"Condition": "any", "Delay": 5 * NANO, "MaxAttempts": 0},
            "Placement": {},
            "ForceUpdate": 0,
            "Runtime": "container",
        },
        "Mode": {"Replicated": {"Replicas": svc.replicas}},
        "UpdateConfig": update,
        "RollbackConfig": rollback,
        "EndpointSpec": {"Mode": "vip"},
    }


def seed(swarm: Swarm, svc: ServiceSpec, live: int = -1) -> Service:
    """``svc`` running its revision ``live`` (default: the last), the one before it its ``PreviousSpec``."""
    revisions = list(svc.revisions)
    index = live % len(revisions)
    previous = spec_of(svc, revisions[index - 1]) if index > 0 else None
    return swarm.create(spec_of(svc, revisions[index]), previous, age_seconds=revisions[index].age_hours * 3600)


def deploy(swarm: Swarm, name: str, svc: ServiceSpec, revision: int = -1) -> None:
    """A release, as CI's ``docker service update --image`` makes it: the scenario's ``revision`` (its image,
    env and change cause) rolled out over the live spec."""
    found = swarm.find(name)
    swarm.update(found.id, str(found.index), spec_of(svc, svc.revisions[revision]))


def routes(swarm: Swarm, name: str) -> list[tuple[float, list[dict]]]:
    """The service's running tasks as ready pods (one route: the routing mesh spreads requests over them)."""
    try:
        svc = swarm.find(name)
    except EngineError:  # not there (yet)
        return [(100.0, [])]
    tasks, _ = swarm.state(svc)
    return [(100.0, [_pod(t) for t in tasks if t["Status"]["State"] == "running"])]


def _pod(task: dict) -> dict:
    container = task["Spec"].get("ContainerSpec") or {}
    env = [{"name": k, "value": v} for k, _, v in (e.partition("=") for e in container.get("Env") or [])]
    return {
        "metadata": {"name": f"{task['ServiceID'][:8]}.{task['Slot']}.{task['ID'][:8]}"},
        "spec": {"containers": [{"name": "app", "image": container.get("Image", ""), "env": env}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"restartCount": 0}]},
    }
