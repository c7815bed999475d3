"""``EcsRollback``: the ``Strategy`` protocol on an ECS service.

A rollback is one ``UpdateService`` to an earlier task definition of the service's family; ECS then runs a
deployment (new tasks up, old ones drained). The wait follows it by ECS's own words (``rules.deployment_state``)
until it is steady, the deployment circuit breaker stops it, or the bot's deadline passes. Every call goes
through ``bot.providers.aws.errors.call``: a failure names the resource and the IAM action.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.providers.aws.ecs import rules
from bot.providers.aws.ecs.options import EcsOptions
from bot.providers.aws.ecs.spec import SPEC
from bot.providers.aws.errors import AwsError, call
from bot.strategies.base import (
    Check,
    ConcurrentChange,
    Plan,
    Progress,
    Revision,
    RollbackError,
    Target,
    Verification,
)
from bot.strategies.options import from_options
from bot.strategies.registry import Connections

NOTHING_CHANGED = "nothing was changed"
HISTORY = 20  # revisions shown and chosen from: the newest of the family
POLL_SECONDS = 2.0
CHANGE_CAUSE_TAG = "change-cause"  # a task definition's tag read as its change cause, like kubectl's annotation


def _name(arn: str) -> str:
    return "{}:{}".format(*rules.family_revision(arn))


class EcsRollback:
    name = SPEC.name
    steps = SPEC.steps
    pre_check_detail = "the service is ACTIVE and the revision is registered"

    def __init__(self, clients: Connections, clock: Any = time) -> None:
        self.clients, self.clock = clients, clock
        self._definitions: dict[str, tuple[dict, dict[str, str]]] = {}  # ARN -> (definition, tags): immutable
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _options(target: Target) -> EcsOptions:
        return from_options(EcsOptions, target.options)

    def _ecs(self, o: EcsOptions) -> Any:
        return self.clients.aws(o.profile or None, o.region).client("ecs")

    def _service(self, o: EcsOptions, consequence: str = NOTHING_CHANGED) -> dict:
        found = call(self._ecs(o), "describe_services", o.where, consequence, cluster=o.cluster,
                     services=[o.service])
        services = found.get("services") or []
        if not services:
            reason = ", ".join(f.get("reason", "") for f in found.get("failures") or []) or "MISSING"
            raise AwsError(f"{o.where} was not found in AWS ({reason}); {consequence}. Check the service's "
                           "options (cluster, service, region) in the services catalog.", "missing", reason)
        service = services[0]
        if service.get("status") != "ACTIVE":
            raise RollbackError(f"{o.where} is {service.get('status')}, not ACTIVE; {consequence}.")
        return service

    def _definition(self, o: EcsOptions, ref: str) -> tuple[dict, dict[str, str]]:
        """A task definition and its tags; ``ref`` is an ARN or ``family:revision`` (cached by ARN)."""
        with self._lock:
            if ref in self._definitions:
                return self._definitions[ref]
        found = call(self._ecs(o), "describe_task_definition", f"task definition {ref} of {o.where}",
                     NOTHING_CHANGED, taskDefinition=ref, include=["TAGS"])
        definition = found["taskDefinition"]
        tags = {t.get("key", ""): t.get("value", "") for t in found.get("tags") or []}
        with self._lock:
            self._definitions[definition["taskDefinitionArn"]] = (definition, tags)
        return definition, tags

    def _revisions(self, o: EcsOptions, family: str) -> list[int]:
        """The family's ACTIVE revisions, oldest first (``familyPrefix`` is a prefix: other families dropped)."""
        arns, token = [], None
        while True:
            page = call(self._ecs(o), "list_task_definitions", f"task definition family {family} of {o.where}",
                        NOTHING_CHANGED, familyPrefix=family, status="ACTIVE", sort="ASC",
                        **({"nextToken": token} if token else {}))
            arns += page.get("taskDefinitionArns") or []
            token = page.get("nextToken")
            if not token:
                break
        return sorted(r for f, r in map(rules.family_revision, arns) if f == family)

    def _revision(self, o: EcsOptions, ref: str) -> Revision:
        definition, tags = self._definition(o, ref)
        family, number = rules.family_revision(definition["taskDefinitionArn"])
        return Revision(
            number=number,
            image=rules.container(definition, o.container).get("image", ""),
            change_cause=tags.get(CHANGE_CAUSE_TAG, ""),
            created_at=definition.get("registeredAt"),
            name=f"{family}:{number}",
        )

    # -- the Strategy protocol -----------------------------------------------------------------

    def history(self, target: Target) -> list[Revision]:
        """The family's newest revisions (``HISTORY``) with their images, oldest first; the live one included."""
        o = self._options(target)
        family, live = rules.family_revision(self._service(o)["taskDefinition"])
        numbers = sorted({*self._revisions(o, family)[-HISTORY:], live})
        return [self._revision(o, f"{family}:{n}") for n in numbers]

    def plan(self, target: Target) -> Plan:
        o = self._options(target)
        service = self._service(o)
        live_arn = service["taskDefinition"]
        family, live = rules.family_revision(live_arn)
        numbers = self._revisions(o, family)
        wanted = target.to_revision or rules.previous(live, numbers)
        if wanted is None:
            raise RollbackError(f"{o.where} runs {family}:{live}, the oldest ACTIVE revision of its family: "
                                "there is no earlier one to roll back to. Nothing was changed.")
        if wanted not in numbers and wanted != live:
            shown = ", ".join(map(str, numbers[-10:])) or "none"
            raise RollbackError(f"task definition {family}:{wanted} is not an ACTIVE revision of {o.where}'s "
                                f"family (active: {shown}). Nothing was changed.")
        current, desired = self._revision(o, live_arn), self._revision(o, f"{family}:{wanted}")
        common = dict(strategy=self.name, target=target, current=current, desired=desired, guard=live_arn)
        if wanted == live:
            return Plan(**common, skipped=f"already at revision {live}")
        live_def, desired_def = self._definition(o, live_arn)[0], self._definition(o, f"{family}:{wanted}")[0]
        move = (f"update {o.where} to task definition {desired.name} (was {current.name}): ECS starts new tasks, "
                "then drains the old ones")
        return Plan(
            **common,
            changes=(move, *rules.changes(live_def, desired_def, current.name, desired.name)),
            warnings=tuple(self._warnings(service)),
            operations=({"cluster": o.cluster, "service": o.service,
                         "taskDefinition": desired_def["taskDefinitionArn"]},),
            summary=f"update {o.service_name} to {desired.name}",
        )

    @staticmethod
    def _warnings(service: dict) -> list[str]:
        warnings = []
        moving = [d for d in service.get("deployments") or [] if d.get("rolloutState") == "IN_PROGRESS"]
        if moving:
            warnings.append(f"a deployment is in progress now ({_name(moving[0]['taskDefinition'])}); the rollback "
                            "replaces it")
        if not rules.breaker(service).get("enable"):
            warnings.append("the ECS deployment circuit breaker is off for this service: only the bot's own "
                            "deadline stops a deployment whose tasks never start")
        return warnings

    def target_print(self, plan: Plan) -> dict:
        """The desired task definition's images and a hash of its containers (a deregistered one is INACTIVE)."""
        o = self._options(plan.target)
        definition, _ = self._definition(o, plan.operations[0]["taskDefinition"]) if plan.operations else ({}, {})
        if not definition:
            return {}
        containers = json.dumps(definition.get("containerDefinitions"), sort_keys=True, default=str)
        return {"images": rules.images(definition), "template": hashlib.sha256(containers.encode()).hexdigest()}

    def is_applied(self, plan: Plan) -> bool:
        return bool(plan.operations) and (
            self._service(self._options(plan.target))["taskDefinition"] == plan.operations[0]["taskDefinition"]
        )

    def apply(self, plan: Plan) -> dict | None:
        """One ``UpdateService`` to the desired task definition, after checking the service still runs what the
        plan was made against (ECS has no conditional update: the check is as close to the write as it gets)."""
        if plan.skipped:
            return None
        o, want = self._options(plan.target), plan.operations[0]["taskDefinition"]
        live = self._service(o)["taskDefinition"]
        if live == want:
            return None  # a run resumed after its update landed
        if live != plan.guard:
            _, now = rules.family_revision(live)
            raise ConcurrentChange(f"{o.where} changed after this plan was made (it now runs revision {now}); "
                                   "nothing was rolled back. Review its new state and plan the rollback again.")
        try:
            return call(self._ecs(o), "update_service", o.where, NOTHING_CHANGED, cluster=o.cluster,
                        service=o.service, taskDefinition=want)["service"]
        except AwsError as failed:
            if not failed.maybe_sent:
                raise
            return self._read_back(o, failed, lambda s: s.get("taskDefinition") == want, "rolled back")

    def _read_back(self, o: EcsOptions, failed: AwsError, landed: Callable[[dict], bool], what: str) -> dict:
        """The answer of a write was lost: read the service again to tell whether it went through."""
        check = f"Check with `aws ecs describe-services --cluster {o.cluster_name} --services {o.service_name}`."
        try:
            service = self._service(o, f"it may or may not have been {what}")
        except RollbackError:
            raise RollbackError(f"{failed} Reading the service again failed too: it may or may not have been "
                                f"{what}. {check}") from failed
        if landed(service):
            return service
        raise RollbackError(f"{failed} The bot read the service again: it was not {what}. {check}") from failed

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Until the deployment to ``target.to_revision`` is steady; RollbackError when the circuit breaker stops
        it, another deployment replaces it, or ``timeout_seconds`` pass."""
        o = self._options(target)
        service = self._service(o, "the rollback was sent; its progress could not be read")
        family, _ = rules.family_revision(service["taskDefinition"])
        desired_arn = self._definition(o, f"{family}:{target.to_revision}")[0]["taskDefinitionArn"]
        deadline, last = time.monotonic() + timeout_seconds, ""
        while True:
            state = rules.deployment_state(service, desired_arn)
            if state.progress.message != last or state.done:
                progress(state.progress)
                last = state.progress.message
            if state.done:
                return
            if state.failure:
                raise RollbackError(f"{o.where}: {state.failure}. Look at the stopped tasks' reasons (the "
                                    "service's events in the ECS console, or `aws ecs describe-services`), or roll "
                                    "back to another revision.")
            if time.monotonic() > deadline:
                raise RollbackError(self._stuck(o, service, state, timeout_seconds))
            self.clock.sleep(POLL_SECONDS)
            service = self._service(o, "the rollback was sent; its progress could not be read")

    @staticmethod
    def _stuck(o: EcsOptions, service: dict, state: rules.State, timeout: float) -> str:
        event = next(iter(service.get("events") or []), {}).get("message")
        said = f" ECS's latest event: {event}" if event else ""
        return (f"{o.where} did not reach a steady state within the bot's deadline of {timeout:.0f} s: "
                f"{state.progress.message}; the deployment is still in progress and ECS keeps trying.{said} "
                "Look at why its tasks do not start, or roll back to another revision.")

    def verify(self, plan: Plan) -> Verification:
        """What ECS itself shows: the live task definition, the running count, the deployment's state."""
        o = self._options(plan.target)
        service = self._service(o, "the rollback went out; its state could not be read")
        want = plan.operations[0]["taskDefinition"] if plan.operations else service["taskDefinition"]
        live = service["taskDefinition"]
        deployments = service.get("deployments") or []
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
        running, desired = service.get("runningCount") or 0, service.get("desiredCount") or 0
        return Verification((
            Check("task definition", live == want,
                  f"live {_name(live)}" + ("" if live == want else f", wanted {_name(want)}")),
            Check("tasks", running == desired and desired > 0 and len(deployments) == 1,
                  f"{running}/{desired} running, {len(deployments) - 1} other deployment(s)"),
            Check("deployment", primary.get("rolloutState", "COMPLETED") == "COMPLETED",
                  f"PRIMARY {primary.get('rolloutState', 'COMPLETED')}"),
        ))

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: the service's desired count (0: every task stops), once; a lost answer is read back."""
        o = self._options(target)
        try:
            call(self._ecs(o), "update_service", o.where, NOTHING_CHANGED, cluster=o.cluster, service=o.service,
                 desiredCount=replicas)
        except AwsError as failed:
            if not failed.maybe_sent:
                raise
            self._read_back(o, failed, lambda s: s.get("desiredCount") == replicas, f"set to {replicas} tasks")
