"""Canary step-down: the canary's share of traffic goes down step by step (75, 50, 25, 10, 0 %), then the
canary Deployment is scaled to zero (or deleted).

Traffic is split by an Istio VirtualService's weights when the catalog names one, else by the
replica counts of the two Deployments (the Service selects both). The loop itself, with its pauses,
readings and the people's *Hold* / *Go to 0 now*, is the run's "step down" step (``bot.steps``);
this module moves the weight and says where it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.providers.kubernetes import gitops, rollout_rules, traffic_patches
from bot.providers.kubernetes.api import Call, CallFailed, Obj, explain
from bot.providers.kubernetes.canary.options import Canary
from bot.providers.kubernetes.canary.spec import SPEC
from bot.providers.kubernetes.deployments import OnDeployments
from bot.providers.kubernetes.locator import k8s, with_workload
from bot.providers.kubernetes.outcomes import NOTHING_CHANGED, VERIFY_CONSEQUENCE, owner_warning
from bot.strategies.base import Check, Plan, Progress, Revision, RollbackError, Target, Verification
from bot.strategies.options import from_options


@dataclass(frozen=True)
class _World:
    options: Canary
    stable: Obj
    canary: Obj
    virtual_service: Obj | None
    weight: int  # the canary's percent of traffic now

    @property
    def routes(self) -> tuple[str, str]:
        return self.options.stable_route or self.options.stable, self.options.canary_route or self.options.canary


def _replicas(d: Obj) -> int:
    return int((d.get("spec") or {}).get("replicas", 1))


class CanaryStepDown(OnDeployments):
    """The ``Strategy`` for ``strategy: canary``."""

    name = "canary"
    steps = SPEC.steps

    def _read(self, target: Target) -> _World:
        opts: Canary = from_options(Canary, target.options)
        ns = k8s(target).namespace
        try:
            stable = self.api.read(Call("get", "deployments", ns, opts.stable))
            canary = self.api.read(Call("get", "deployments", ns, opts.canary))
            vs = None
            if opts.virtual_service:
                vs = self.api.read(Call("get", "virtualservices", ns, opts.virtual_service))
        except CallFailed as failed:
            if failed.status == 404:
                what = "canary.virtual_service" if failed.call.resource == "virtualservices" else "canary.stable/canary"
                raise RollbackError(
                    f"{failed.call.resource.rstrip('s')} {ns}/{failed.call.name} not found; {NOTHING_CHANGED}. "
                    f"Check {what} in the services catalog."
                ) from failed
            raise explain(failed, NOTHING_CHANGED) from failed
        if vs is not None:
            stable_route, canary_route = opts.stable_route or opts.stable, opts.canary_route or opts.canary
            try:
                weight = traffic_patches.weights_of(vs, stable_route, canary_route)[canary_route]
            except ValueError as exc:
                raise RollbackError(f"VirtualService {ns}/{opts.virtual_service}: {exc}; {NOTHING_CHANGED}") from exc
        else:
            total = _replicas(stable) + _replicas(canary)
            weight = round(100 * _replicas(canary) / total) if total else 0
        return _World(opts, stable, canary, vs, weight)

    def _revision(self, d: Obj, number: int, label: str, target: Target) -> Revision:
        return Revision(
            number=number,
            image=rollout_rules.container_image(rollout_rules.deployment_template(d), k8s(target).container),
            change_cause=rollout_rules.annotations(d).get(rollout_rules.CHANGE_CAUSE, "")
            or f"Deployment {d['metadata']['name']}",
            created_at=rollout_rules.parse_time(d["metadata"].get("creationTimestamp")),
            name=d["metadata"]["name"],
            label=label,
        )

    def history(self, target: Target) -> list[Revision]:
        """Stable and canary; the one with (most of) the traffic last, as "live"."""
        world = self._read(target)
        stable = self._revision(world.stable, 1, "stable", target)
        canary = self._revision(world.canary, 2, "canary", target)
        return [stable, canary] if world.weight > 0 else [canary, stable]

    def plan(self, target: Target) -> Plan:
        world = self._read(target)
        opts = world.options
        if target.to_revision == 2:
            raise RollbackError(
                "sending more traffic to the canary is a release, not a rollback; nothing was changed. "
                "Use your deploy tool to promote it."
            )
        stable = self._revision(world.stable, 1, "stable", target)
        canary = self._revision(world.canary, 2, "canary", target)
        guard = ((world.virtual_service or world.canary).get("metadata") or {}).get("resourceVersion", "")
        common = dict(strategy=self.name, target=replace(target, to_revision=1), guard=guard, desired=stable)
        if world.weight == 0:
            return Plan(**common, current=stable, skipped="the canary already gets no traffic")
        steps = [w for w in opts.steps if w < world.weight] or [0]
        path = " → ".join(f"{w}%" for w in (world.weight, *steps))
        pause = opts.step_pause or "one analysis interval"
        how = (
            f"VirtualService {opts.virtual_service} weights"
            if world.virtual_service is not None
            else f"replicas of {opts.stable} and {opts.canary} (no VirtualService)"
        )
        changes = [
            f"step the canary's share of traffic down: {path} ({how})",
            f"pause {pause} at each step and read the 5xx rate and p95; *Hold* or *Go to 0 now* on the card",
            f"at 0%: delete {opts.canary} once the stable is verified (after: delete)"
            if opts.after == "delete"
            else f"at 0%: scale {opts.canary} to 0",
        ]
        return Plan(
            **common,
            current=canary,
            changes=tuple(changes),
            warnings=owner_warning(self._owner(world)),
            summary=f"stepping the canary down from {world.weight}%",
        )

    @staticmethod
    def _owner(world: _World) -> gitops.GitOpsOwner | None:
        return gitops.detect_any([world.virtual_service, world.stable, world.canary])

    def sync_owner(self, target: Target) -> gitops.GitOpsOwner | None:
        """Argo CD or Flux managing the VirtualService or either Deployment would put the weights back."""
        return self._owner(self._read(target))

    def capabilities(self) -> tuple[object, ...]:
        """The canary is its own ``Router`` (Istio weights, or a replica split), besides the common ones."""
        return (self, *super().capabilities())

    def weight(self, target: Target) -> int:
        return self._read(target).weight

    def set_weight(self, target: Target, weight: int) -> None:
        """Move the canary to ``weight`` percent: the VirtualService's weights, or the two replica counts
        (the stable scaled up before the canary is scaled down, so capacity never drops)."""
        world = self._read(target)
        if world.virtual_service is not None:
            ops = traffic_patches.weights_patch(world.virtual_service, *world.routes, weight)
            name = world.options.virtual_service
            try:
                self.api.write(Call("patch", "virtualservices", k8s(target).namespace, name), ops)
            except CallFailed as failed:
                if self.weight(target) == weight:
                    return
                raise explain(
                    failed,
                    f"the canary's weight stays at {world.weight}%",
                    f"Set it by hand: `kubectl edit virtualservice/{name} -n {k8s(target).namespace}`.",
                ) from failed
            return
        total = _replicas(world.stable) + _replicas(world.canary)
        stable, canary = traffic_patches.replica_split(total, weight)
        self.deployments.scale(with_workload(target, world.options.stable), stable)
        self.deployments.scale(with_workload(target, world.options.canary), canary)

    def schedule(self, target: Target) -> tuple[tuple[int, ...], str]:
        opts: Canary = from_options(Canary, target.options)
        return opts.steps, opts.step_pause

    def settle(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Until the new split serves: nothing to wait for with Istio; the stable's new pods ready without it."""
        opts: Canary = from_options(Canary, target.options)
        if not opts.virtual_service:
            self.deployments.wait(with_workload(target, opts.stable), progress, timeout_seconds)

    def is_applied(self, plan: Plan) -> bool:
        return self._read(plan.target).weight == 0

    def apply(self, plan: Plan) -> None:
        """Straight to 0 % (the emergency path; the step-down itself moves through ``set_weight``)."""
        self.set_weight(plan.target, 0)

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        self.settle(target, progress, timeout_seconds)

    def verify(self, plan: Plan) -> Verification:
        t = plan.target
        opts: Canary = from_options(Canary, t.options)
        try:
            world = self._read(t)
            stable = self.deployments.verify(replace(plan, target=with_workload(t, opts.stable)))
        except CallFailed as failed:
            raise explain(failed, VERIFY_CONSEQUENCE) from failed
        return Verification(
            (Check("canary weight", world.weight == 0, f"the canary gets {world.weight}% of traffic"), *stable.checks)
        )

    def remove_canary(self, plan: Plan, verified: bool) -> str:
        """At 0 %: the canary scaled to zero, or deleted (``after: delete``), but only once the stable is
        verified; an unverified stable keeps the canary's Deployment, scaled to zero."""
        opts: Canary = from_options(Canary, plan.target.options)
        t = with_workload(plan.target, opts.canary)
        if opts.after == "delete" and not verified:
            self.scale(plan.target, 0)
            return f"{opts.canary} scaled to 0, not deleted: the stable release was not verified"
        if opts.after == "delete":
            try:
                self.api.write(Call("delete", "deployments", k8s(t).namespace, opts.canary))
            except CallFailed as failed:
                if failed.status != 404:
                    raise explain(failed, f"{opts.canary} was not deleted; it gets no traffic") from failed
            return f"{opts.canary} deleted"
        self.deployments.scale(t, 0)
        return f"{opts.canary} scaled to 0"

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: the canary scaled (to zero: all traffic on the stable). To zero goes through ``set_weight``
        first: no route may point at a canary without pods, and without Istio the stable is scaled up to the
        total before the canary goes, so capacity never drops."""
        opts: Canary = from_options(Canary, target.options)
        if replicas == 0:
            self.set_weight(target, 0)
        self.deployments.scale(with_workload(target, opts.canary), replicas)

    def target_print(self, plan: Plan) -> dict:
        """What traffic moves to: the pod template of the stable Deployment, as it is now."""
        return self._deployment_print(plan)
