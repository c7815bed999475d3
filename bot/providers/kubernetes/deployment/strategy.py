"""Kubernetes Deployment rollback: ``kubectl rollout undo`` semantics plus a resourceVersion guard.

The rules themselves (which ReplicaSets count, which revision is "previous", the patch,
``rollout status``) are pure functions in ``rollout_rules.py``; the calls themselves (timeouts,
retries, failures in words) are in ``k8s_api.py``; this module decides what a failure means
for the user: whether anything changed, and what to do next. Objects are read as raw JSON so
the patch carries exactly what the API server stored, like kubectl's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from bot.providers.kubernetes import env_rules, gitops, rollout_rules
from bot.providers.kubernetes.api import REQUEST_TIMEOUT, Api, Call, CallFailed, Obj, explain
from bot.providers.kubernetes.backup import JobBackup
from bot.providers.kubernetes.deployment.pods import PodChecks, label_selector
from bot.providers.kubernetes.deployment.wait import RolloutWait
from bot.providers.kubernetes.gitops import GitOpsGuard
from bot.providers.kubernetes.locator import k8s
from bot.providers.kubernetes.outcomes import NOTHING_CHANGED, VERIFY_CONSEQUENCE, located, owner_warning
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

log = logging.getLogger(__name__)

PATCH_ATTEMPTS = 3
RESENDABLE = (409, 429, 500, 502, 503)  # refused for a moment; the resourceVersion `test` op keeps a resend safe


class _SafeToResend(Exception):
    """A patch was refused and nothing changed: sending the same guarded patch again is safe."""


class KubernetesUndo(RolloutWait, PodChecks):
    """The ``Strategy`` for Deployments. ``clock``: ``time``, or a ``SimClock`` (``now()``, ``sleep()``).

    ``request_timeout``: real seconds any one API request may take (see ``k8s_api``).
    """

    name = "kubernetes"
    pre_check_detail = "target exists, deployment not paused"  # what the pre-checks found, in words
    steps = RUN_STEPS
    kind, resource = "deployment", "deployments"  # what a subclass for another workload changes

    def __init__(
        self, api_client: client.ApiClient, clock: Any = time, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self.api = Api(api_client, request_timeout)
        self.clock = clock

    # -- reading -----------------------------------------------------------------------------

    def _now(self) -> float:
        now = getattr(self.clock, "now", None)
        return now() if now else self.clock.time()

    def _real(self, seconds: float) -> float:
        real = getattr(self.clock, "real_seconds", None)
        return real(seconds) if real else seconds

    def _workload(self, target: Target, until: float | None = None) -> Obj:
        return self.api.read(Call("get", self.resource, k8s(target).namespace, k8s(target).workload), until)

    def _owned(self, deployment: Obj) -> list[Obj]:
        meta = deployment["metadata"]
        found = self.api.read(
            Call("list", "replicasets", meta["namespace"]),
            label_selector=label_selector(deployment["spec"].get("selector")),
        )
        return rollout_rules.owned_replicasets(deployment, found.get("items") or [])

    def _read(self, target: Target) -> tuple[Obj, list[Obj]]:
        deployment = self._workload(target)
        return deployment, self._owned(deployment)

    def _runs_desired(self, plan: Plan, live: Obj) -> bool:
        """The live Deployment's pod template is the desired ReplicaSet's (``pod-template-hash`` aside); for an
        env-only plan, its env is the desired ReplicaSet's and its image the one the plan kept."""
        t = plan.target
        if plan.desired is None or not plan.desired.name:
            return False
        try:
            rs = self.api.read(Call("get", "replicasets", k8s(t).namespace, plan.desired.name))
        except CallFailed as failed:
            if failed.status == 404:
                return False
            raise
        template = rollout_rules.deployment_template(live)
        if t.env_only:  # the env of the desired revision, and still the image the plan kept
            image = rollout_rules.container_image(template, k8s(t).container)
            return env_rules.env_equal(template, rollout_rules.rs_template(rs)) and image == plan.desired.image
        return rollout_rules.equal_ignore_hash(rollout_rules.rs_template(rs), template)

    @contextmanager
    def _explained(self, target: Target, consequence: str, next_step: str = "") -> Iterator[None]:
        """Turn a failed call into a RollbackError that says what happened and what to do."""
        try:
            yield
        except CallFailed as failed:
            call = failed.call
            if failed.status == 404 and (call.resource, call.name) == (self.resource, k8s(target).workload):
                raise RollbackError(
                    f"{self.kind} {k8s(target).namespace}/{k8s(target).workload} not found; {consequence}. "
                    "Check the service's namespace and workload in the services catalog."
                ) from failed
            raise explain(failed, consequence, next_step) from failed

    @staticmethod
    def _revision(rs: Obj, container: str) -> Revision:
        meta = rs.get("metadata") or {}
        return Revision(
            number=rollout_rules.revision_of(rs) or 0,
            image=rollout_rules.container_image(rollout_rules.rs_template(rs), container),
            change_cause=rollout_rules.annotations(rs).get(rollout_rules.CHANGE_CAUSE, ""),
            created_at=rollout_rules.parse_time(meta.get("creationTimestamp")),
            name=meta.get("name", ""),
        )

    # -- the Strategy protocol ---------------------------------------------------------------

    def history(self, target: Target) -> list[Revision]:
        """``kubectl rollout history``: one entry per revision of an owned ReplicaSet."""
        with self._explained(target, NOTHING_CHANGED):
            _, owned = self._read(target)
        by_number = {r.number: r for rs in owned if (r := self._revision(rs, k8s(target).container)).number}
        return [by_number[n] for n in sorted(by_number)]

    def plan(self, target: Target) -> Plan:
        """``kubectl rollout undo`` as a dry run, in kubectl's order of checks."""
        with self._explained(target, NOTHING_CHANGED):
            deployment, owned = self._read(target)
        desired_rs = rollout_rules.select_revision(deployment, owned, target.to_revision)
        where = f"{k8s(target).namespace}/{k8s(target).workload}"
        if deployment["spec"].get("paused"):
            raise RollbackError(
                f"{where} is paused; resume it first "
                f"(kubectl rollout resume deployment/{k8s(target).workload} -n {k8s(target).namespace})"
            )
        template = rollout_rules.deployment_template(deployment)
        live_rs = rollout_rules.find_new_replicaset(deployment, owned)
        current_number = rollout_rules.revision_of(deployment) or 0
        current = Revision(
            number=current_number,
            image=rollout_rules.container_image(template, k8s(target).container),
            change_cause=rollout_rules.annotations(deployment).get(rollout_rules.CHANGE_CAUSE, ""),
            created_at=rollout_rules.parse_time((live_rs or {}).get("metadata", {}).get("creationTimestamp")),
            name=(live_rs or {}).get("metadata", {}).get("name", ""),
        )
        desired = self._revision(desired_rs, k8s(target).container)
        guard = deployment["metadata"].get("resourceVersion", "")
        common = dict(strategy=self.name, target=target, current=current, desired=desired, guard=guard)
        next_number = max([current_number, *(rollout_rules.revision_of(rs) or 0 for rs in owned)]) + 1
        owner = gitops.detect(deployment)
        if target.env_only:
            plan = Plan(**common)
            restored = env_rules.env_only_template(template, rollout_rules.rs_template(desired_rs))
            warnings = (*self._config_warnings(target, template, restored, desired.number), *owner_warning(owner))
            return env_rules.env_only_plan(plan, deployment, desired_rs, next_number, warnings)
        if rollout_rules.equal_ignore_hash(rollout_rules.rs_template(desired_rs), template):
            return Plan(**common, skipped=f"already at revision {desired.number}")
        restored = rollout_rules.rs_template(desired_rs)
        env = env_rules.env_changes(template, restored)
        refs = env_rules.ref_lines(env_rules.restored_refs(template, restored), k8s(target).namespace)
        return Plan(
            **common,
            changes=(
                *rollout_rules.describe_changes(template, restored, current_number, desired.number, next_number),
                *env,
                *refs,
            ),
            warnings=(
                *rollout_rules.migration_warnings(live_rs, template, desired_rs),
                *self._config_warnings(target, template, restored, desired.number),
                *owner_warning(owner),
            ),
            operations=tuple(rollout_rules.rollback_patch(deployment, desired_rs, guard)),
            env_only_offer=bool(env) and desired.image != current.image,
        )

    def _config_warnings(self, target: Target, live: Obj, restored: Obj, revision: int) -> list[str]:
        """A ConfigMap the restored pods read and the live ones do not, gone: they would not start.

        Secrets are not read (their data would come along); the plan's line says to check them by hand.
        """
        warnings = []
        for _, ref in env_rules.restored_refs(live, restored):
            if ref.kind != "ConfigMap" or ref.optional:
                continue
            try:
                self.api.read(Call("get", "configmaps", k8s(target).namespace, ref.name))
            except CallFailed as failed:
                if failed.status == 404:
                    warnings.append(env_rules.missing_warning(ref, k8s(target).namespace, revision))
                else:
                    warnings.append(
                        f"could not check that ConfigMap {ref.name} still exists ({failed.problem}); "
                        f"check it by hand: `kubectl get configmap {ref.name} -n {k8s(target).namespace}`"
                    )
        return warnings

    def sync_owner(self, target: Target) -> gitops.GitOpsOwner | None:
        """The Argo CD or Flux object that would put the workload back on its next sync (the suspend step)."""
        with self._explained(target, NOTHING_CHANGED):
            return gitops.detect(self._workload(target))

    def capabilities(self) -> tuple[object, ...]:
        """GitOps sync suspended around the change, a backup Job before it (``bot.strategies.capabilities``)."""
        return (GitOpsGuard(self.api, self.sync_owner), JobBackup(self.api, self.clock))

    def target_print(self, plan: Plan) -> dict:
        """The pod template of the revision the plan restores, as its ReplicaSet holds it now."""
        if plan.desired is None or not plan.desired.name:
            return {}
        with self._explained(plan.target, NOTHING_CHANGED):
            return rollout_rules.template_print(self._desired_template(k8s(plan.target).namespace, plan.desired.name))

    def _desired_template(self, namespace: str, name: str) -> Obj:
        return rollout_rules.rs_template(self.api.read(Call("get", "replicasets", namespace, name)))

    def is_applied(self, plan: Plan) -> bool:
        """Whether the live Deployment already runs the desired revision's whole pod template (on resume)."""
        with self._explained(plan.target, NOTHING_CHANGED):
            return self._runs_desired(plan, self._workload(plan.target))

    def apply(self, plan: Plan) -> Obj | None:
        """Send the plan's JSON Patch, once; the click-to-accepted path. Returns the patched Deployment.

        When the answer is an error or never comes, the Deployment is read again to tell what
        happened: the patch landed after all (its answer was lost: success), the Deployment moved
        under the plan (ConcurrentChange), or nothing changed.
        """
        if plan.skipped:
            return None
        t = plan.target
        call = Call("patch", self.resource, k8s(t).namespace, k8s(t).workload)
        for attempt in range(PATCH_ATTEMPTS):
            try:
                return self.api.write(call, [dict(op) for op in plan.operations])
            except CallFailed as failed:
                try:
                    return self._after_failed_patch(plan, failed)
                except _SafeToResend:
                    # Refused, and the deployment is exactly as planned: the guarded patch may go again.
                    log.warning("patch of %s answered %s; nothing changed, sending again", located(t), failed.problem)
                    self.clock.sleep(0.5 * (attempt + 1))
                    last = failed
        raise explain(last, f"nothing was changed (the bot read the {self.kind} again to make sure)") from last

    def _after_failed_patch(self, plan: Plan, failed: CallFailed) -> Obj:
        t = plan.target
        w = k8s(t)
        check = (
            f"Check with `kubectl rollout history {self.kind}/{w.workload} -n {w.namespace}` before trying again: "
            "a retry of this plan is refused if it went through."
        )
        if failed.status == 404:
            raise RollbackError(
                f"{self.kind} {k8s(t).namespace}/{k8s(t).workload} no longer exists; nothing was rolled back. "
                "Check the service's namespace and workload in the services catalog."
            ) from failed
        if failed.status in (400, 401, 403) or not failed.sent:
            raise explain(failed, NOTHING_CHANGED) from failed
        try:
            live = self._workload(t)
            landed = self._runs_desired(plan, live)
        except CallFailed:
            raise explain(
                failed,
                f"the patch may or may not have been applied, and reading the {self.kind} again failed too",
                check,
            ) from failed
        if landed:
            log.warning("patch of %s answered %s, but the rollback is live", located(t), failed.problem)
            return live
        if live["metadata"].get("resourceVersion") != plan.guard:
            raise ConcurrentChange(
                f"{located(t)} changed after this plan was made (it is now at {self._state_words(live, t)}); "
                "nothing was rolled back. "
                "Review its new state and plan the rollback again."
            ) from failed
        if failed.uncertain:
            raise explain(
                failed,
                f"the patch was not live when the bot read the {self.kind} again, "
                "but the API server may still apply it",
                check,
            ) from failed
        if failed.status in RESENDABLE:
            raise _SafeToResend() from failed
        raise explain(failed, f"nothing was changed (the bot read the {self.kind} again to make sure)") from failed

    def _state_words(self, live: Obj, target: Target) -> str:
        """Where the workload is now, for a ConcurrentChange message."""
        image = rollout_rules.container_image(rollout_rules.deployment_template(live), k8s(target).container)
        return f"revision {rollout_rules.revision_of(live)}, image {image}"

    def _rollout_state(self, obj: Obj, target: Target) -> tuple[Progress, bool, str | None]:
        """(progress, done, failure in words) by ``kubectl rollout status``'s rules for this workload."""
        state = rollout_rules.progress_of(obj)
        done, _, failed = rollout_rules.rollout_status(obj)
        failure = None
        if failed:
            failure = (
                f"{located(target)}: deployment exceeded its progress deadline with {state.available}/"
                f"{state.desired} new replicas available; the new pods do not become ready. "
                "Check their logs, or roll back to another revision"
            )
        return state, done, failure

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: set the Deployment's replicas through the scale subresource (``kubectl scale``), once."""
        call = Call("patch", f"{self.resource}/scale", k8s(target).namespace, k8s(target).workload)
        try:
            self.api.write(call, {"spec": {"replicas": replicas}})
            return
        except CallFailed as failed:
            if failed.status == 404:
                raise RollbackError(
                    f"{self.kind} {k8s(target).namespace}/{k8s(target).workload} no longer exists; nothing was scaled"
                ) from failed
            if failed.status in (400, 401, 403) or not failed.sent:
                raise explain(failed, NOTHING_CHANGED) from failed
            lost = failed
        check = f"`kubectl get {self.kind}/{k8s(target).workload} -n {k8s(target).namespace}`"
        try:
            live = self._workload(target)
        except CallFailed:
            raise explain(
                lost,
                f"it may or may not have been scaled to {replicas}, and reading the {self.kind} again failed too",
                f"Check with {check} and scale it by hand if needed.",
            ) from lost
        if (live.get("spec") or {}).get("replicas") == replicas:
            log.warning("scaling %s answered %s, but it is scaled", located(target), lost.problem)
            return
        if lost.uncertain:
            raise explain(
                lost,
                f"it was not scaled to {replicas} when the bot read it again, but the API server may still do it",
                f"Check with {check} and scale it by hand if needed.",
            ) from lost
        raise explain(lost, f"nothing was changed (the bot read the {self.kind} again to make sure)") from lost

    def verify(self, plan: Plan) -> Verification:
        """What the cluster itself shows: image, replicas, the new pods, the Service's endpoints."""
        t = plan.target
        follow = f"Check it by hand: `kubectl rollout status deployment/{k8s(t).workload} -n {k8s(t).namespace}`."
        with self._explained(t, VERIFY_CONSEQUENCE, follow):
            deployment, owned = self._read(t)
            template = rollout_rules.deployment_template(deployment)
            live_rs = rollout_rules.find_new_replicaset(deployment, owned)
            pods = self._pods_check(live_rs) if live_rs else Check("pods", False, "no ReplicaSet runs this template")
            endpoints = self._endpoints_check(k8s(t).namespace, template)
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        image = rollout_rules.container_image(template, k8s(t).container)
        want = plan.desired.image if plan.desired else plan.current.image
        checks = [Check("image", image == want, f"live image {image}" + ("" if image == want else f", wanted {want}"))]
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
        return Verification((*checks, pods, endpoints))
