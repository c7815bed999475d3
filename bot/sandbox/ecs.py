"""ECS deployments, modelled where moto does not: moto keeps the clusters, services and task definitions, and
answers every call; it does not roll a deployment from one task definition to the next over time, count running
tasks, or stop a deployment with the circuit breaker. ``EcsDeployments`` does, through ``AwsFront``'s hooks:

- ``UpdateService`` goes to moto first (it checks the cluster, the service and the task definition); when moto
  took it and it names another task definition (or forces a new deployment), a new PRIMARY deployment starts
  and the previous ones stay ACTIVE until it is steady; a new desired count moves the PRIMARY's;
- ``DescribeServices`` is moto's answer with the deployments, counts, task definition and events laid over it;
- ``DescribeTaskDefinition`` gets the ``registeredAt`` of the scenario's release (moto has none).

A deployment moves with the world's SimClock, by how the scenario says its image behaves: its tasks start one a
second after ``ready_after``; once every one runs, the old deployments are drained and it is COMPLETED (event
"has reached a steady state"). An image that crash-loops never runs a task: each ``restart_every`` seconds every
one of its tasks fails; at ECS's threshold (half the desired count, at least 3, at most 200) the circuit
breaker marks it FAILED, and with ``rollback`` a new PRIMARY deployment of the last steady task definition
starts. ``routes(service)`` gives the service simulator the running tasks as pods (image and env of their task
definition), so its traffic follows the live task definition and Prometheus sees the change.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from dataclasses import dataclass, field

from bot.sandbox.aws import AwsFront, client_for
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import Request, Response
from bot.sandbox.scenario import Scenario, ServiceSpec

TASK_STAGGER = 1.0  # simulated seconds between two tasks of a deployment becoming RUNNING


@dataclass
class Deployment:
    task_definition: str  # ARN
    containers: list[dict]  # the task definition's containerDefinitions
    desired: int
    started: float  # SimClock seconds
    id: str = field(default_factory=lambda: f"ecs-svc/{uuid.uuid4().int % 10**19}")
    status: str = "PRIMARY"
    rollout: str = "IN_PROGRESS"
    reason: str = ""
    failed_tasks: int = 0
    running: int = 0
    floor: int = 0  # tasks already running when it started (scaled up)

    def as_json(self, iso) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired,
            "pendingCount": max(0, self.desired - self.running) if self.rollout != "FAILED" else 0,
            "runningCount": self.running,
            "failedTasks": self.failed_tasks,
            "createdAt": iso(self.started),
            "updatedAt": iso(self.started),
            "launchType": "FARGATE",
            "rolloutState": self.rollout,
            "rolloutStateReason": self.reason or f"ECS deployment {self.id} {self.rollout.lower().replace('_', ' ')}.",
        }


@dataclass
class _Service:
    spec: ServiceSpec
    deployments: list[Deployment]
    events: list[dict] = field(default_factory=list)  # newest first, as ECS lists them
    completed: str = ""  # the task definition of the last steady deployment
    breaker: dict = field(default_factory=dict)  # {"enable", "rollback"}: ECS's deployment circuit breaker


class EcsDeployments:
    """The deployments of the scenario's ECS services (see the module's doc); ``install`` hooks it into a
    front, ``seed`` creates the services in moto through it."""

    def __init__(self, scenario: Scenario, clock: SimClock, moto_url: str) -> None:
        self.scenario, self.clock = scenario, clock
        self._moto = client_for(moto_url, "ecs")  # moto directly: what the model reads is not the bot's call
        self._services: dict[str, _Service] = {}  # ECS service name -> its model
        self._definitions: dict[str, list[dict]] = {}  # task definition ARN -> containerDefinitions
        self._registered: dict[str, float] = {}  # ARN -> when the scenario says it was registered (moto: never)
        self._lock = threading.RLock()

    def set_breaker(self, name: str, enable: bool, rollback: bool = False) -> None:
        """Turn the service's deployment circuit breaker on or off, in moto and in the model."""
        breaker = {"enable": enable, "rollback": rollback}
        svc = self._services[name]
        self._moto.update_service(cluster=svc.spec.ecs.cluster, service=name,
                                  deploymentConfiguration={"deploymentCircuitBreaker": breaker})
        with self._lock:
            svc.breaker = breaker

    def install(self, front: AwsFront) -> None:
        front.hooks["ecs:UpdateService"] = self._update_service
        front.hooks["ecs:DescribeServices"] = self._describe_services
        front.hooks["ecs:DescribeTaskDefinition"] = self._describe_task_definition

    # -- the scenario's services -------------------------------------------------------------------

    def seed(self, spec: ServiceSpec) -> None:
        """The cluster, one task definition per release (tagged with its change cause), the service on the last,
        steady (its deployment COMPLETED long ago)."""
        ecs, cfg = self._moto, spec.ecs
        ecs.create_cluster(clusterName=cfg.cluster)
        arns = []
        for rev in spec.revisions:
            container = {"name": spec.container, "image": rev.image, "memory": 512, "essential": True,
                         "portMappings": [{"containerPort": spec.port}],
                         "environment": [{"name": k, "value": str(v)} for k, v in rev.env.items()]}
            tags = [{"key": "change-cause", "value": rev.change_cause}] if rev.change_cause else []
            registered = ecs.register_task_definition(family=spec.name, containerDefinitions=[container],
                                                      **({"tags": tags} if tags else {}))
            arns.append(registered["taskDefinition"]["taskDefinitionArn"])
            self._registered[arns[-1]] = self.clock.now() - rev.age_hours * 3600
        breaker = {"enable": cfg.circuit_breaker, "rollback": cfg.rollback}
        ecs.create_service(cluster=cfg.cluster, serviceName=spec.name, taskDefinition=arns[-1],
                           desiredCount=spec.replicas,
                           deploymentConfiguration={"deploymentCircuitBreaker": breaker, "maximumPercent": 200,
                                                    "minimumHealthyPercent": 100})
        first = Deployment(arns[-1], self._containers(arns[-1]), spec.replicas, self.clock.now() - 3600,
                           rollout="COMPLETED", running=spec.replicas)
        with self._lock:
            self._services[spec.name] = _Service(spec, [first], completed=arns[-1], breaker=breaker)
            self._event(self._services[spec.name], "has reached a steady state.")

    def _containers(self, arn: str) -> list[dict]:
        if arn not in self._definitions:
            found = self._moto.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            self._definitions[arn] = found.get("containerDefinitions") or []
        return self._definitions[arn]

    # -- time -------------------------------------------------------------------------------------------

    def _tick(self, svc: _Service) -> None:
        """Move every deployment of ``svc`` to where it is now."""
        now = self.clock.now()
        primary = svc.deployments[0]
        if primary.rollout != "IN_PROGRESS":
            return
        behaviour = self._behaviour(svc.spec, primary.containers)
        elapsed = now - primary.started
        if behaviour.crashloop:
            primary.failed_tasks = primary.desired * int(elapsed // max(behaviour.restart_every, 0.1))
            threshold = min(200, max(3, math.ceil(primary.desired / 2)))
            if svc.breaker.get("enable") and primary.failed_tasks >= threshold:
                self._trip(svc, primary)
            return
        started = 0 if elapsed < behaviour.ready_after else int((elapsed - behaviour.ready_after) // TASK_STAGGER) + 1
        primary.running = min(primary.desired, primary.floor + started)
        if primary.running == primary.desired:
            primary.rollout, svc.completed = "COMPLETED", primary.task_definition
            primary.reason = f"ECS deployment {primary.id} completed."
            svc.deployments = [primary]
            self._event(svc, "has reached a steady state.")

    def _trip(self, svc: _Service, failed: Deployment) -> None:
        rollback = svc.breaker.get("rollback")
        failed.rollout, failed.status = "FAILED", "ACTIVE" if rollback else "PRIMARY"
        failed.reason = "ECS deployment circuit breaker: tasks failed to start."  # ECS's own words
        self._event(svc, f"deployment {failed.id} deployment failed: tasks failed to start.")
        if rollback and svc.completed:
            back = Deployment(svc.completed, self._containers(svc.completed), failed.desired, self.clock.now())
            self._event(svc, f"rolling back to deployment {back.id}.")
            svc.deployments = [back, *(d for d in svc.deployments if d.rollout != "FAILED")]

    def _behaviour(self, spec: ServiceSpec, containers: list[dict]):
        main = next((c for c in containers if c.get("name") == spec.container), containers[0] if containers else {})
        env = {e.get("name", ""): str(e.get("value", "")) for e in main.get("environment") or []}
        return self.scenario.behaviour(main.get("image", ""), env)

    def _event(self, svc: _Service, message: str) -> None:
        at = self.clock.now()
        text = f"(service {svc.spec.name}) {message}"
        svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": at, "message": text})
        del svc.events[20:]

    # -- the hooks ----------------------------------------------------------------------------------------

    def _update_service(self, req: Request, forward) -> Response:
        answer = forward(req)
        if answer.status != 200:
            return answer
        asked, body = json.loads(req.body or b"{}"), json.loads(answer.body)
        name = body["service"]["serviceName"]
        with self._lock:
            svc = self._services.get(name)
            if svc is None:
                return answer
            self._tick(svc)
            primary = svc.deployments[0]
            moved = body["service"]["taskDefinition"] != primary.task_definition or asked.get("forceNewDeployment")
            desired = asked.get("desiredCount", primary.desired)
            if moved:
                arn = body["service"]["taskDefinition"]
                for d in svc.deployments:
                    d.status = "ACTIVE"
                svc.deployments.insert(0, Deployment(arn, self._containers(arn), desired, self.clock.now()))
                self._event(svc, f"has started a deployment {svc.deployments[0].id}.")
            elif desired != primary.desired:
                self._scale(svc, primary, desired)
            self._overlay(body["service"], svc)
        return Response(answer.status, json.dumps(body).encode(), answer.headers)

    def _scale(self, svc: _Service, primary: Deployment, desired: int) -> None:
        """A new desired count: fewer tasks stop at once; more start as a deployment's do."""
        primary.desired = desired
        if desired == 0:  # every task stops, the old deployments' too: nothing is left to roll
            primary.running, primary.rollout = 0, "COMPLETED"
            svc.deployments = [primary]
            self._event(svc, "has stopped every task: desired count 0.")
        elif desired <= primary.running:
            primary.running = desired
            self._event(svc, f"has stopped tasks: {desired} running.")
        elif primary.rollout == "COMPLETED":
            primary.rollout, primary.started, primary.floor = "IN_PROGRESS", self.clock.now(), primary.running

    def _describe_task_definition(self, req: Request, forward) -> Response:
        """moto's answer with ``registeredAt`` as long ago as the scenario's release is old."""
        answer = forward(req)
        if answer.status != 200:
            return answer
        body = json.loads(answer.body)
        definition = body.get("taskDefinition") or {}
        if definition.get("taskDefinitionArn") in self._registered:
            definition["registeredAt"] = self._registered[definition["taskDefinitionArn"]]
        return Response(answer.status, json.dumps(body).encode(), answer.headers)

    def _describe_services(self, req: Request, forward) -> Response:
        answer = forward(req)
        if answer.status != 200:
            return answer
        body = json.loads(answer.body)
        with self._lock:
            for service in body.get("services") or []:
                svc = self._services.get(service.get("serviceName", ""))
                if svc is not None:
                    self._tick(svc)
                    self._overlay(service, svc)
        return Response(answer.status, json.dumps(body).encode(), answer.headers)

    def _overlay(self, service: dict, svc: _Service) -> None:
        service["deployments"] = [d.as_json(lambda t: t) for d in svc.deployments]
        service["runningCount"] = sum(d.running for d in svc.deployments)
        service["pendingCount"] = sum(max(0, d.desired - d.running) for d in svc.deployments if d.rollout != "FAILED")
        service["desiredCount"] = svc.deployments[0].desired
        service["taskDefinition"] = svc.deployments[0].task_definition
        service["events"] = list(svc.events)
        given = service.get("deploymentConfiguration") or {"maximumPercent": 200, "minimumHealthyPercent": 100}
        service["deploymentConfiguration"] = {**given, "deploymentCircuitBreaker": dict(svc.breaker)}  # moto drops it

    # -- traffic ----------------------------------------------------------------------------------------------

    def routes(self, name: str) -> list[tuple[float, list[dict]]]:
        """The service's running tasks as the pods the service simulator reads (one route: ECS behind a load
        balancer spreads requests over every running task)."""
        with self._lock:
            svc = self._services.get(name)
            if svc is None:
                return [(100.0, [])]
            self._tick(svc)
            pods = [
                _task_pod(f"{name}-{d.id[-6:]}-{i}", d.containers)
                for d in svc.deployments
                for i in range(d.running)
            ]
        return [(100.0, pods)]


def _task_pod(name: str, containers: list[dict]) -> dict:
    """A running task as a ready pod: its containers' images and env, what the simulator's behaviour reads."""
    return {
        "metadata": {"name": name},
        "spec": {"containers": [
            {"name": c.get("name", ""), "image": c.get("image", ""), "env": _env(c)} for c in containers
        ]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"restartCount": 0}]},
    }


def _env(container: dict) -> list[dict]:
    return [{"name": e.get("name", ""), "value": str(e.get("value", ""))} for e in container.get("environment") or []]
