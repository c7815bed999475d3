"""The sandbox scenario: which services exist, their release history, and how each image behaves."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

RESOLVED_ENV = "sandbox.rollback-bot/env"  # a pod's env as read from ConfigMaps when it started (JSON)


@dataclass(frozen=True)
class ImageBehaviour:
    ready_after: float = 2.0
    crashloop: bool = False
    restart_every: float = 10.0
    error_rate: float = 0.0
    p95_seconds: float = 0.1
    memory_ratio: float = 0.4
    job_seconds: float = 5.0  # run as a Job's pod: seconds until its container exits
    job_fails: bool = False  # ... with exit code 1 instead of 0
    # (env the container must have, fields that change then): a feature flag that breaks or fixes a release
    when_env: tuple[tuple[dict[str, str], dict[str, Any]], ...] = ()


@dataclass(frozen=True)
class Revision:
    image: str
    change_cause: str = ""
    age_hours: float = 0.0
    env: dict[str, Any] = field(default_factory=dict)  # NAME: "value", or NAME: {secretKeyRef: {...}} (valueFrom)

    def container_env(self) -> list[dict]:
        """The env as a container spec has it, in the scenario's order."""
        return [
            {"name": k, "valueFrom": v} if isinstance(v, dict) else {"name": k, "value": str(v)}
            for k, v in self.env.items()
        ]


@dataclass(frozen=True)
class BlueGreenSpec:
    """Two Deployments ``<service>-<colour>``; the Service ``<service>`` selects ``active``."""

    active: str
    colours: dict[str, Revision]  # colour -> the release it runs
    selector_key: str = "version"
    virtual_service: bool = True  # an Istio VirtualService routes the host by subset (= colour)
    replicas: dict[str, int] = field(default_factory=dict)  # colour -> replicas (default: the service's)


@dataclass(frozen=True)
class CanarySpec:
    """Deployments ``<service>-stable`` and ``<service>-canary``; the canary gets ``weight`` % of the traffic."""

    stable: Revision
    canary: Revision
    weight: int = 80
    virtual_service: bool = True  # Istio weights over Services <service>-stable/-canary; False: replica counts


@dataclass(frozen=True)
class EcsSpec:
    """A service on ECS (in moto, ``bot/sandbox/ecs.py`` rolls its deployments): its task definitions are the
    service's ``revisions`` (family: the service's name), the last one live."""

    cluster: str
    circuit_breaker: bool = True  # ECS's deployment circuit breaker stops a deployment whose tasks never start
    rollback: bool = False  # ... and rolls the service back to its last steady deployment


@dataclass(frozen=True)
class SwarmSpec:
    """A Docker Swarm service in the Engine API simulator (``bot/sandbox/engine``): its specs are the service's
    ``revisions`` (the last one live, the one before it its ``PreviousSpec``), rolled by these configs."""

    parallelism: int = 1
    delay_seconds: float = 1.0
    failure_action: str = "pause"  # UpdateConfig.FailureAction: pause | continue | rollback
    rollback_failure_action: str = "pause"  # RollbackConfig.FailureAction: pause | continue
    monitor_seconds: float = 5.0  # UpdateConfig.Monitor: how long the Engine watches new tasks before completing


@dataclass(frozen=True)
class AlbSpec:
    """A service behind an ALB (in moto, ``bot/sandbox/aws_alb.py``): a listener rule forwards to target groups
    ``<service>-stable`` (the last good release) and ``<service>-release`` by weight; each holds ``replicas`` ip
    targets running its release. In a World only with ``World(alb=True)`` (seeding ELB costs every World time)."""

    stable: Revision
    release: Revision
    weight: int = 100  # the release target group's share (%)
    cdn: bool = True  # a CloudFront distribution in front of the load balancer (the catalog's ``cdn:``)
    invalidation_seconds: float = 3.0  # simulated seconds a CloudFront invalidation stays InProgress


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    namespace: str
    container: str = "app"
    replicas: int = 3
    port: int = 8080
    requests_per_second: float = 50.0
    revisions: tuple[Revision, ...] = ()
    selector: dict[str, str] | None = None  # the Deployment's labels; None -> {"app": name}
    blue_green: BlueGreenSpec | None = None
    canary: CanarySpec | None = None
    gitops: str | None = None  # "argocd", "flux" or "flux-helm": seeded with the controller's labels and object
    kind: str = "Deployment"  # or "StatefulSet": the workload the cluster seeds; "ECSService": none (``ecs``)
    ecs: EcsSpec | None = None
    swarm: SwarmSpec | None = None  # kind "SwarmService": in the Engine API simulator, not on Kubernetes
    alb: AlbSpec | None = None  # kind ALBService
    catalog: dict[str, Any] = field(default_factory=dict)  # extra keys of its services-catalog entry
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)  # seeded in its namespace: name -> data
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> values (stored base64, as Secrets are)
    # The incident's bad change when it is a config change: {configmap: name, data: {...}, by: field manager};
    # ``World.apply_config_change`` makes it, then restarts the pods, as a person with kubectl would.
    config_change: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("Deployment", "StatefulSet", "ECSService", "SwarmService", "ALBService"):
            raise ValueError(f"service {self.name}: kind must be Deployment, StatefulSet, ECSService, "
                             f"SwarmService or ALBService, not {self.kind!r}")
        if (self.kind == "ECSService") != (self.ecs is not None):
            raise ValueError(f"service {self.name}: kind ECSService and an ecs block go together")
        if (self.kind == "SwarmService") != (self.swarm is not None):
            raise ValueError(f"service {self.name}: kind SwarmService and a swarm block go together")
        if (self.kind == "ALBService") != (self.alb is not None):
            raise ValueError(f"service {self.name}: kind ALBService and an alb block go together")

    @property
    def on_kubernetes(self) -> bool:
        return self.ecs is None and self.swarm is None and self.alb is None

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.selector) if self.selector else {"app": self.name}

    @property
    def strategy(self) -> str:
        if self.kind == "StatefulSet":
            return "statefulset"
        if self.ecs:
            return "aws-ecs"
        if self.swarm:
            return "swarm"
        if self.alb:
            return "aws-alb"
        return "blue-green" if self.blue_green else "canary" if self.canary else "kubernetes"


@dataclass(frozen=True)
class Scenario:
    services: tuple[ServiceSpec, ...]
    images: dict[str, ImageBehaviour] = field(default_factory=dict)
    time_scale: float = 1.0

    def behaviour(self, image: str, env: dict[str, str] | None = None) -> ImageBehaviour:
        """Unknown images behave like a healthy release; ``env`` (a container's literal values) picks the first
        ``when_env`` rule it satisfies."""
        found = self.images.get(image, ImageBehaviour())
        for needs, fields in found.when_env:
            if env is not None and all(env.get(k) == str(v) for k, v in needs.items()):
                return dataclasses.replace(found, **fields)
        return found

    def container_behaviour(self, pod: dict, container: dict) -> ImageBehaviour:
        """How a container of a pod behaves: its image, as its env flags it (literal values, and those read
        from ConfigMaps and Secrets when the pod started, as a kubelet reads them once)."""
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        env = dict(json.loads(annotations.get(RESOLVED_ENV) or "{}").get(container.get("name", ""), {}))
        env.update({e.get("name", ""): str(e["value"]) for e in container.get("env") or [] if "value" in e})
        return self.behaviour(container.get("image", ""), env)

    def service(self, name: str) -> ServiceSpec:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)


def default_scenario_path() -> Path:
    return Path(str(resources.files("bot.sandbox") / "scenarios" / "default.yaml"))


def with_swarm(scenario: Scenario) -> Scenario:
    """The scenario with the Swarm services and images of ``scenarios/swarm.yaml`` (``World(swarm=True)``)."""
    extra = load_scenario(Path(str(resources.files("bot.sandbox") / "scenarios" / "swarm.yaml")))
    names = {s.name for s in scenario.services}
    return dataclasses.replace(scenario, services=scenario.services + tuple(
        s for s in extra.services if s.name not in names), images={**extra.images, **scenario.images})


def load_scenario(path: str | Path | None = None) -> Scenario:
    raw = yaml.safe_load(Path(path or default_scenario_path()).read_text())
    images = {name: _behaviour(spec or {}) for name, spec in (raw.get("images") or {}).items()}
    services = tuple(_service(svc) for svc in raw.get("services", []))
    return Scenario(services=services, images=images, time_scale=float(raw.get("time_scale", 1.0)))


def _behaviour(spec: dict) -> ImageBehaviour:
    rules = tuple((dict(r["env"]), {k: v for k, v in r.items() if k != "env"}) for r in spec.get("when_env") or [])
    return ImageBehaviour(**{k: v for k, v in spec.items() if k != "when_env"}, when_env=rules)


def _service(svc: dict) -> ServiceSpec:
    special = ("revisions", "blue_green", "canary", "ecs", "swarm", "alb")
    bg, canary, ecs, alb = svc.get("blue_green"), svc.get("canary"), svc.get("ecs"), svc.get("alb")
    return ServiceSpec(
        **{k: v for k, v in svc.items() if k not in special},
        revisions=tuple(Revision(**r) for r in svc.get("revisions", [])),
        blue_green=BlueGreenSpec(
            **{**bg, "colours": {c: Revision(**r) for c, r in bg["colours"].items()}}
        ) if bg else None,
        canary=CanarySpec(
            **{**canary, "stable": Revision(**canary["stable"]), "canary": Revision(**canary["canary"])}
        ) if canary else None,
        ecs=EcsSpec(**ecs) if ecs else None,
        swarm=SwarmSpec(**svc["swarm"]) if svc.get("swarm") else None,
        alb=AlbSpec(
            **{**alb, "stable": Revision(**alb["stable"]), "release": Revision(**alb["release"])}
        ) if alb else None,
    )
