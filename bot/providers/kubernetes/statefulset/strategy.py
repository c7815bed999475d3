"""StatefulSet rollback: ``kubectl rollout undo statefulset/...`` through ControllerRevisions.

Built on ``KubernetesUndo``: the guarded patch, its resend rules, the wait (watch, then polling),
scaling and every failure explained are the same calls on another resource. What differs is here:
the history lives in ControllerRevisions, the rollout is followed by kubectl's StatefulSet status
rules, and a pod that crash-loops stops the rollout (the controller waits on it forever), so the
wait fails on it at once with what to do, instead of running into the deadline.
"""

from __future__ import annotations

from bot.providers.kubernetes import rollout_rules
from bot.providers.kubernetes import statefulset_rules as rules
from bot.providers.kubernetes.api import Call, CallFailed, Obj
from bot.providers.kubernetes.deployment.pods import label_selector
from bot.providers.kubernetes.deployment.strategy import KubernetesUndo
from bot.providers.kubernetes.locator import k8s
from bot.providers.kubernetes.outcomes import NOTHING_CHANGED, VERIFY_CONSEQUENCE, located
from bot.strategies.base import Check, Plan, Progress, Revision, RollbackError, Target, Verification


class StatefulSetUndo(KubernetesUndo):
    """The ``Strategy`` for StatefulSets (RollingUpdate; OnDelete is refused at plan time)."""

    name = "statefulset"
    pre_check_detail = ""  # the generic words: the revision is there
    kind, resource = "statefulset", "statefulsets"

    def _owned(self, sts: Obj) -> list[Obj]:
        meta = sts["metadata"]
        found = self.api.read(
            Call("list", "controllerrevisions", meta["namespace"]),
            label_selector=label_selector(sts["spec"].get("selector")),
        )
        return rules.owned_revisions(sts, found.get("items") or [])

    def _sts_pods(self, sts: Obj) -> list[Obj]:
        return self._pods(sts)

    @staticmethod
    def _revision(cr: Obj, container: str) -> Revision:
        meta = cr.get("metadata") or {}
        return Revision(
            number=rules.revision_number(cr) or 0,
            image=rollout_rules.container_image(rules.revision_template(cr), container),
            change_cause=rollout_rules.annotations(cr).get(rollout_rules.CHANGE_CAUSE, ""),
            created_at=rollout_rules.parse_time(meta.get("creationTimestamp")),
            name=meta.get("name", ""),
        )

    def history(self, target: Target) -> list[Revision]:
        """``kubectl rollout history statefulset/...``: one entry per owned ControllerRevision."""
        with self._explained(target, NOTHING_CHANGED):
            _, owned = self._read(target)
        by_number = {r.number: r for cr in owned if (r := self._revision(cr, k8s(target).container)).number}
        return [by_number[n] for n in sorted(by_number)]

    def plan(self, target: Target) -> Plan:
        """``kubectl rollout undo statefulset/...`` as a dry run, with the pod order spelled out."""
        with self._explained(target, NOTHING_CHANGED):
            sts, owned = self._read(target)
            pods = self._sts_pods(sts)
        desired_cr = rules.select_revision(sts, owned, target.to_revision)
        if refused := rules.refusal(sts):
            raise RollbackError(refused)
        template = rules.template(sts)
        live_cr = rules.live_revision(sts, owned)
        current = (
            self._revision(live_cr, k8s(target).container)
            if live_cr
            else Revision(0, rollout_rules.container_image(template, k8s(target).container))
        )
        desired = self._revision(desired_cr, k8s(target).container)
        guard = sts["metadata"].get("resourceVersion", "")
        common = dict(strategy=self.name, target=target, current=current, desired=desired, guard=guard)
        if rules.matches(desired_cr, sts):
            return Plan(**common, skipped=f"already at revision {desired.number}")
        next_number = max(rules.revision_number(cr) or 0 for cr in owned) + 1
        desired_like = rules.as_replicaset(desired_cr)
        return Plan(
            **common,
            changes=tuple(
                rollout_rules.describe_changes(
                    template, rules.revision_template(desired_cr), current.number, desired.number, next_number
                )
            ),
            warnings=(
                *rules.order_warnings(sts, pods),
                *rollout_rules.migration_warnings(
                    rules.as_replicaset(live_cr) if live_cr else None, template, desired_like
                ),
            ),
            operations=tuple(rules.rollback_patch(sts, desired_cr, guard)),
        )

    def _desired_template(self, namespace: str, name: str) -> Obj:
        """The pod template the ControllerRevision ``name`` restores (``target_print``)."""
        return rules.revision_template(self.api.read(Call("get", "controllerrevisions", namespace, name)))

    def _runs_desired(self, plan: Plan, live: Obj) -> bool:
        """The live pod template is the desired ControllerRevision's."""
        t = plan.target
        if plan.desired is None or not plan.desired.name:
            return False
        try:
            cr = self.api.read(Call("get", "controllerrevisions", k8s(t).namespace, plan.desired.name))
        except CallFailed as failed:
            if failed.status == 404:
                return False
            raise
        return rules.matches(cr, live)

    def _state_words(self, live: Obj, target: Target) -> str:
        image = rollout_rules.container_image(rules.template(live), k8s(target).container)
        return f"update revision {(live.get('status') or {}).get('updateRevision', '?')}, image {image}"

    def _rollout_state(self, obj: Obj, target: Target) -> tuple[Progress, bool, str | None]:
        """kubectl's StatefulSet status rules; while pods are not ready, a crash-looping one fails the wait."""
        try:
            state = rules.progress_of(obj)
        except RollbackError as refused:  # switched to OnDelete during the rollback
            return Progress(message="OnDelete: pods are not replaced"), False, str(refused)
        status = obj.get("status") or {}
        if state.done or (status.get("readyReplicas") or 0) >= ((obj.get("spec") or {}).get("replicas") or 0):
            return state, state.done, None
        pods = self._sts_pods(obj)
        failing = rules.failing_pods(pods)
        if not failing:
            return state, False, None
        pod, reason = failing[0]
        ns = k8s(target).namespace
        labels = next(p["metadata"].get("labels") or {} for p in pods if p["metadata"]["name"] == pod)
        if labels.get(rules.REVISION_LABEL) == status.get("updateRevision"):
            failure = (
                f"{located(target)}: pod {pod} of the new revision does not start ({reason}); the rollout stops "
                f"there ({state.message}), the pods below it keep their old revision. Check its logs "
                f"(`kubectl logs {pod} -n {ns} --previous`), or roll back to another revision"
            )
        else:
            failure = (
                f"{located(target)}: pod {pod} is not ready ({reason}) and the StatefulSet controller will not "
                f"replace it by itself ({state.message}). Delete it (`kubectl delete pod {pod} -n {ns}`) so it is "
                "recreated from the restored template, then follow the rollout"
            )
        return state, False, failure

    def verify(self, plan: Plan) -> Verification:
        """What the cluster shows: image, every pod updated and ready, the Service's endpoints."""
        t = plan.target
        follow = f"Check it by hand: `kubectl rollout status statefulset/{k8s(t).workload} -n {k8s(t).namespace}`."
        with self._explained(t, VERIFY_CONSEQUENCE, follow):
            sts = self._workload(t)
            pods = self._pods_check(sts)
            endpoints = self._endpoints_check(k8s(t).namespace, rules.template(sts))
        spec, status = sts.get("spec") or {}, sts.get("status") or {}
        image = rollout_rules.container_image(rules.template(sts), k8s(t).container)
        want = plan.desired.image if plan.desired else plan.current.image
        checks = [Check("image", image == want, f"live image {image}" + ("" if image == want else f", wanted {want}"))]
        replicas = spec.get("replicas", 1)
        updated, ready = status.get("updatedReplicas") or 0, status.get("readyReplicas") or 0
        want_updated = replicas - rules.partition(sts)
        checks.append(
            Check(
                "replicas",
                ready == replicas and updated >= want_updated and (status.get("replicas") or 0) == replicas,
                f"{ready}/{replicas} ready, {updated}/{want_updated} at revision {status.get('updateRevision', '?')}",
            )
        )
        return Verification((*checks, pods, endpoints))
