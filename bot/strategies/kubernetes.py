"""Kubernetes Deployment rollback: ``kubectl rollout undo`` semantics plus a resourceVersion guard.

The rules themselves (which ReplicaSets count, which revision is "previous", the patch,
``rollout status``) are pure functions in ``rollout.py``; this module does the API calls.
Objects are read as raw JSON (``_preload_content=False``) so the patch carries exactly what
the API server stored, like kubectl's, and no time is spent building client models.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from bot.strategies import rollout
from bot.strategies.base import (
    RUN_STEPS,
    Check,
    ConcurrentChange,
    Plan,
    Progress,
    Revision,
    RollbackError,
    Target,
    Verification,
)

Obj = dict[str, Any]
WATCH_SLICE_SECONDS = 5  # longest real wait on one watch before the deadline is checked again
POLL_SECONDS = 1.0  # clock seconds between reads when the server offers no watch


def _json(response) -> Obj:
    return json.loads(response.data)


def _api_message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body)["message"]
    except (TypeError, ValueError, KeyError):
        return f"{exc.status} {exc.reason}"


def _parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def label_selector(selector: Obj | None) -> str:
    """A LabelSelector object as the ``labelSelector`` query string."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        terms.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[op]
        )
    return ",".join(terms)


class KubernetesUndo:
    """The ``Strategy`` for Deployments. ``clock``: ``time``, or a ``SimClock`` (``now()``, ``sleep()``)."""

    name = "kubernetes"
    steps = RUN_STEPS

    def __init__(self, api_client: client.ApiClient, clock: Any = time) -> None:
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.clock = clock

    # -- reading -----------------------------------------------------------------------------

    def _now(self) -> float:
        now = getattr(self.clock, "now", None)
        return now() if now else self.clock.time()

    def _real(self, seconds: float) -> float:
        real = getattr(self.clock, "real_seconds", None)
        return real(seconds) if real else seconds

    def _deployment(self, namespace: str, name: str) -> Obj:
        try:
            return _json(self.apps.read_namespaced_deployment(name, namespace, _preload_content=False))
        except ApiException as exc:
            if exc.status == 404:
                raise RollbackError(
                    f"deployment {namespace}/{name} not found; check the service's namespace and workload "
                    "in the services catalog"
                ) from exc
            raise RollbackError(f"could not read deployment {namespace}/{name}: {_api_message(exc)}") from exc

    def _owned(self, deployment: Obj) -> list[Obj]:
        meta = deployment["metadata"]
        found = self.apps.list_namespaced_replica_set(
            meta["namespace"],
            label_selector=label_selector(deployment["spec"].get("selector")),
            _preload_content=False,
        )
        return rollout.owned_replicasets(deployment, _json(found).get("items") or [])

    def _read(self, target: Target) -> tuple[Obj, list[Obj]]:
        try:
            deployment = self._deployment(target.namespace, target.workload)
            return deployment, self._owned(deployment)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RollbackError(
                f"the Kubernetes API at {self.apps.api_client.configuration.host} cannot be reached ({exc}); "
                "nothing was changed"
            ) from exc

    @staticmethod
    def _revision(rs: Obj, container: str) -> Revision:
        meta = rs.get("metadata") or {}
        return Revision(
            number=rollout.revision_of(rs) or 0,
            image=rollout.container_image(rollout.rs_template(rs), container),
            change_cause=rollout.annotations(rs).get(rollout.CHANGE_CAUSE, ""),
            created_at=_parse_time(meta.get("creationTimestamp")),
            name=meta.get("name", ""),
        )

    # -- the Strategy protocol ---------------------------------------------------------------

    def history(self, target: Target) -> list[Revision]:
        """``kubectl rollout history``: one entry per revision of an owned ReplicaSet."""
        _, owned = self._read(target)
        by_number = {r.number: r for rs in owned if (r := self._revision(rs, target.container)).number}
        return [by_number[n] for n in sorted(by_number)]

    def plan(self, target: Target) -> Plan:
        """``kubectl rollout undo`` as a dry run, in kubectl's order of checks."""
        deployment, owned = self._read(target)
        desired_rs = rollout.select_revision(deployment, owned, target.to_revision)
        where = f"{target.namespace}/{target.workload}"
        if deployment["spec"].get("paused"):
            raise RollbackError(
                f"{where} is paused; resume it first "
                f"(kubectl rollout resume deployment/{target.workload} -n {target.namespace})"
            )
        template = rollout.deployment_template(deployment)
        live_rs = rollout.find_new_replicaset(deployment, owned)
        current_number = rollout.revision_of(deployment) or 0
        current = Revision(
            number=current_number,
            image=rollout.container_image(template, target.container),
            change_cause=rollout.annotations(deployment).get(rollout.CHANGE_CAUSE, ""),
            created_at=_parse_time((live_rs or {}).get("metadata", {}).get("creationTimestamp")),
            name=(live_rs or {}).get("metadata", {}).get("name", ""),
        )
        desired = self._revision(desired_rs, target.container)
        guard = deployment["metadata"].get("resourceVersion", "")
        common = dict(strategy=self.name, target=target, current=current, desired=desired, guard=guard)
        if rollout.equal_ignore_hash(rollout.rs_template(desired_rs), template):
            return Plan(**common, skipped=f"already at revision {desired.number}")
        next_number = max([current_number, *(rollout.revision_of(rs) or 0 for rs in owned)]) + 1
        return Plan(
            **common,
            changes=tuple(
                rollout.describe_changes(
                    template, rollout.rs_template(desired_rs), current_number, desired.number, next_number
                )
            ),
            warnings=tuple(rollout.migration_warnings(live_rs, template, desired_rs)),
            operations=tuple(rollout.rollback_patch(deployment, desired_rs, guard)),
        )

    def is_applied(self, plan: Plan) -> bool:
        """The live template already equals the desired revision's (a resumed run must not patch twice)."""
        deployment, owned = self._read(plan.target)
        desired = next((rs for rs in owned if rollout.revision_of(rs) == plan.desired.number), None)
        live = rollout.find_new_replicaset(deployment, owned)
        if desired is None:  # the rollback made it the newest revision: compare with what is live
            image = rollout.container_image(rollout.rs_template(live), plan.target.container) if live else None
            return image == plan.desired.image
        return rollout.equal_ignore_hash(rollout.rs_template(desired), rollout.deployment_template(deployment))

    def apply(self, plan: Plan) -> Obj | None:
        """Send the plan's JSON Patch; the click-to-accepted path. Returns the patched Deployment."""
        if plan.skipped:
            return None
        t = plan.target
        try:
            response = self.apps.patch_namespaced_deployment(
                t.workload, t.namespace, body=[dict(op) for op in plan.operations], _preload_content=False
            )
        except ApiException as exc:
            if exc.status in (409, 422):
                self._raise_if_moved(plan)
            if exc.status == 404:
                raise RollbackError(f"deployment {t.namespace}/{t.workload} no longer exists") from exc
            raise RollbackError(
                f"failed restoring revision {plan.desired.number if plan.desired else '?'} of "
                f"{t.namespace}/{t.workload}: {_api_message(exc)}"
            ) from exc
        return _json(response)

    def _raise_if_moved(self, plan: Plan) -> None:
        t = plan.target
        now = self._deployment(t.namespace, t.workload)
        if now["metadata"].get("resourceVersion") == plan.guard:
            return
        image = rollout.container_image(rollout.deployment_template(now), t.container)
        raise ConcurrentChange(
            f"{t.namespace}/{t.workload} changed after this plan was made (it is now at revision "
            f"{rollout.revision_of(now)}, image {image}); nothing was rolled back. "
            "Review its new state and plan the rollback again."
        )

    def execute(self, plan: Plan, progress: Callable[[Progress], None], deadline_seconds: float) -> None:
        """Patch, then wait by the rules of ``kubectl rollout status``; skipped plans change nothing."""
        if plan.skipped:
            progress(Progress(message=f"nothing to do: {plan.skipped}", done=True))
            return
        started = self._now()
        self.apply(plan)
        progress(Progress(message=f"rollback to revision {plan.desired.number} sent; waiting for new pods"))
        self.wait(plan.target, progress, deadline_seconds - (self._now() - started))

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Watch the Deployment until ``rollout status`` says done, failed, or ``timeout_seconds`` pass.

        A watch that delivers no event at all (a real API server always sends the current object
        first) is treated as unsupported: that slice reads the Deployment and sleeps instead.
        """
        deadline = self._now() + timeout_seconds
        where, last = f"{target.namespace}/{target.workload}", None

        def observe(obj: Obj) -> bool:
            nonlocal last
            state = rollout.progress_of(obj)
            if state != last:
                progress(state)
                last = state
            done, _, failed = rollout.rollout_status(obj)
            if failed:
                raise RollbackError(
                    f"{where}: deployment exceeded its progress deadline with {state.available}/"
                    f"{state.desired} new replicas available; the new pods do not become ready. "
                    "Check their logs, or roll back to another revision"
                )
            return done

        while True:
            remaining = deadline - self._now()
            if remaining <= 0:
                raise RollbackError(
                    f"{where} did not finish rolling out before the deadline "
                    f"({last.message if last else 'no status seen'}); the old pods keep serving what they can"
                )
            seconds = max(1, min(WATCH_SLICE_SECONDS, int(self._real(remaining)) + 1))
            stream = watch.Watch().stream(
                self.apps.list_namespaced_deployment,
                target.namespace,
                field_selector=f"metadata.name={target.workload}",
                timeout_seconds=seconds,
                _request_timeout=seconds + 5,
            )
            events = 0
            for event in stream:
                events += 1
                if event["type"] == "DELETED":
                    raise RollbackError(f"{where} was deleted during the rollback")
                if event["type"] in ("ADDED", "MODIFIED") and observe(event["raw_object"]):
                    stream.close()
                    return
                if self._now() >= deadline:
                    stream.close()
                    break
            if not events:
                if observe(self._deployment(target.namespace, target.workload)):
                    return
                self.clock.sleep(min(POLL_SECONDS, max(remaining, 0)))

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: set the Deployment's replicas through the scale subresource (``kubectl scale``)."""
        try:
            self.apps.patch_namespaced_deployment_scale(
                target.workload, target.namespace, body={"spec": {"replicas": replicas}}
            )
        except ApiException as exc:
            raise RollbackError(
                f"could not scale {target.namespace}/{target.workload} to {replicas}: {_api_message(exc)}"
            ) from exc

    def verify(self, plan: Plan) -> Verification:
        """What the cluster itself shows: image, replicas, the new pods, the Service's endpoints."""
        t = plan.target
        deployment, owned = self._read(t)
        template = rollout.deployment_template(deployment)
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        image = rollout.container_image(template, t.container)
        want = plan.desired.image if plan.desired else plan.current.image
        checks = [
            Check(
                "image", image == want, f"live image {image}" + ("" if image == want else f", wanted {want}")
            )
        ]
        replicas = spec.get("replicas", 1)
        counts = {k: status.get(k) or 0 for k in ("updatedReplicas", "readyReplicas", "availableReplicas")}
        checks.append(
            Check(
                "replicas",
                all(v == replicas for v in counts.values()) and (status.get("replicas") or 0) == replicas,
                f"{counts['availableReplicas']}/{replicas} available, {counts['updatedReplicas']} updated, "
                f"{(status.get('replicas') or 0) - counts['updatedReplicas']} old",
            )
        )
        live_rs = rollout.find_new_replicaset(deployment, owned)
        checks.append(
            self._pods_check(live_rs) if live_rs else Check("pods", False, "no ReplicaSet runs this template")
        )
        checks.append(self._endpoints_check(t.namespace, template))
        return Verification(tuple(checks))

    def _pods(self, rs: Obj) -> list[Obj]:
        found = self.core.list_namespaced_pod(
            rs["metadata"]["namespace"],
            label_selector=label_selector(rs["spec"].get("selector")),
            _preload_content=False,
        )
        return [p for p in _json(found).get("items") or [] if rollout.is_controlled_by(p, rs)]

    def _pods_check(self, rs: Obj, sample_seconds: float = 5.0) -> Check:
        """Pods of the live ReplicaSet all ready; restart counts sampled twice must not climb."""

        def restarts(pods: list[Obj]) -> dict[str, int]:
            return {
                p["metadata"]["name"]: sum(
                    c.get("restartCount", 0) for c in (p.get("status") or {}).get("containerStatuses") or []
                )
                for p in pods
            }

        pods = self._pods(rs)
        ready = [
            p
            for p in pods
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        ]
        first = restarts(pods)
        climbing: list[str] = []
        if any(first.values()):
            self.clock.sleep(sample_seconds)
            later = restarts(self._pods(rs))
            climbing = [name for name, n in later.items() if n > first.get(name, n)]
        ok = bool(pods) and len(ready) == len(pods) and not climbing
        detail = f"{len(ready)}/{len(pods)} pods of {rs['metadata']['name']} ready"
        if climbing:
            detail += f"; restarts climbing in {', '.join(sorted(climbing))}"
        elif any(first.values()):
            detail += f"; {sum(first.values())} earlier restarts, not climbing"
        return Check("pods", ok, detail)

    def _endpoints_check(self, namespace: str, template: Obj) -> Check:
        labels = (template.get("metadata") or {}).get("labels") or {}
        services = (
            _json(self.core.list_namespaced_service(namespace, _preload_content=False)).get("items") or []
        )
        selecting = [
            s
            for s in services
            if (sel := (s.get("spec") or {}).get("selector"))
            and all(labels.get(k) == v for k, v in sel.items())
        ]
        if not selecting:
            return Check("endpoints", None, "no Service selects these pods")
        details, ok = [], True
        for svc in selecting:
            name = svc["metadata"]["name"]
            try:
                ep = _json(self.core.read_namespaced_endpoints(name, namespace, _preload_content=False))
            except ApiException as exc:
                if exc.status != 404:
                    raise
                ep = {}
            addresses = sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])
            ok = ok and addresses > 0
            details.append(f"service {name}: {addresses} ready addresses")
        return Check("endpoints", ok, "; ".join(details))
