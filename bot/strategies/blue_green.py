"""Blue-green: switch the Service's selector (and the Istio route, if any) back to the other colour.

A traffic move, not a workload move: the Deployments stay as they are. The idle colour is
made ready first (scaled up to the live colour's replicas when it was scaled down), so no
request is switched to a colour that cannot serve it. Its "revisions" are the colours,
numbered in the catalog's order, the live one last (as ``rollout history`` lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.strategies import gitops, rollout, traffic
from bot.strategies.base import Check, Plan, Progress, Revision, RollbackError, Target, Verification
from bot.strategies.k8s_api import Call, CallFailed, Obj, explain
from bot.strategies.kubernetes import NOTHING_CHANGED, VERIFY_CONSEQUENCE, OnDeployments, owner_warning
from bot.strategies.options import BlueGreen, from_options

STEPS = (
    "pre-checks",
    "backup",
    "suspend sync",
    "prepare",
    "switch traffic",
    "wait for traffic",
    "verify",
    "after switch",
)


@dataclass(frozen=True)
class _World:
    """What the cluster says about one blue-green service, read together."""

    options: BlueGreen
    service: Obj  # the Kubernetes Service
    live: str  # the colour its selector picks
    deployments: dict[str, Obj | None]  # colour -> Deployment (None: missing)
    virtual_service: Obj | None


class BlueGreenSwitch(OnDeployments):
    """The ``Strategy`` for ``strategy: blue-green``; ``KubernetesUndo`` reads, scales and follows the colours."""

    name = "blue-green"
    steps = STEPS

    # -- reading -----------------------------------------------------------------------------

    def _read(self, target: Target) -> _World:
        opts: BlueGreen = from_options(BlueGreen, target.options)
        name = opts.service or target.service
        try:
            svc = self.api.read(Call("get", "services", target.namespace, name))
            deployments = {
                c: self._maybe(Call("get", "deployments", target.namespace, d)) for c, d in opts.colours.items()
            }
            vs = (
                self._maybe(Call("get", "virtualservices", target.namespace, opts.virtual_service))
                if opts.virtual_service
                else None
            )
        except CallFailed as failed:
            if failed.status == 404 and failed.call.resource == "services":
                raise RollbackError(
                    f"service {target.namespace}/{name} not found; {NOTHING_CHANGED}. Check blue_green.service "
                    "in the services catalog."
                ) from failed
            raise explain(failed, NOTHING_CHANGED) from failed
        if opts.virtual_service and vs is None:
            raise RollbackError(
                f"VirtualService {target.namespace}/{opts.virtual_service} not found; {NOTHING_CHANGED}. "
                "Check blue_green.virtual_service in the services catalog."
            )
        live = ((svc.get("spec") or {}).get("selector") or {}).get(opts.selector_key)
        if live not in opts.colours:
            raise RollbackError(
                f"service {target.namespace}/{name} selects {opts.selector_key}={live}, which is none of the "
                f"catalog's colours ({', '.join(opts.colours)}); {NOTHING_CHANGED}. Check its selector "
                f"(`kubectl get svc/{name} -n {target.namespace} -o yaml`) and blue_green in the catalog."
            )
        return _World(opts, svc, live, deployments, vs)

    def _revision(self, world: _World, colour: str, target: Target) -> Revision:
        d = world.deployments[colour]
        number = list(world.options.colours).index(colour) + 1
        name = world.options.colours[colour]
        if d is None:
            return Revision(number, "", f"{name} does not exist", name=name, label=colour)
        template = rollout.deployment_template(d)
        return Revision(
            number=number,
            image=rollout.container_image(template, target.container),
            change_cause=rollout.annotations(d).get(rollout.CHANGE_CAUSE, "") or f"Deployment {name}",
            created_at=rollout.parse_time(d["metadata"].get("creationTimestamp")),
            name=name,
            label=colour,
        )

    # -- the Strategy protocol ---------------------------------------------------------------

    def history(self, target: Target) -> list[Revision]:
        world = self._read(target)
        idle = [c for c in world.options.colours if c != world.live]
        return [self._revision(world, c, target) for c in (*idle, world.live)]

    def plan(self, target: Target) -> Plan:
        world = self._read(target)
        opts, colours = world.options, list(world.options.colours)
        if target.to_revision is not None and not 1 <= target.to_revision <= len(colours):
            raise RollbackError(f"there is no colour number {target.to_revision}; the colours are {', '.join(colours)}")
        desired = colours[target.to_revision - 1] if target.to_revision else next(c for c in colours if c != world.live)
        current_rev, desired_rev = self._revision(world, world.live, target), self._revision(world, desired, target)
        guard = world.service["metadata"].get("resourceVersion", "")
        common = dict(strategy=self.name, target=replace(target, to_revision=desired_rev.number), guard=guard)
        if desired == world.live:
            return Plan(**common, current=current_rev, desired=desired_rev, skipped=f"already on {desired}")
        idle = world.deployments[desired]
        if idle is None:
            raise RollbackError(
                f"the {desired} colour's Deployment {target.namespace}/{opts.colours[desired]} does not exist; "
                f"{NOTHING_CHANGED}. Deploy the last good release there first, or roll back {current_rev.name} "
                "itself with kubectl rollout undo."
            )
        if desired_rev.image == current_rev.image:
            raise RollbackError(
                f"both colours run {current_rev.image}; switching to {desired} would change nothing, so "
                f"{NOTHING_CHANGED}. Deploy the last good release to {opts.colours[desired]} first."
            )
        live_replicas = ((world.deployments[world.live] or {}).get("spec") or {}).get("replicas", 1)
        idle_replicas = (idle.get("spec") or {}).get("replicas", 1)
        svc_name = world.service["metadata"]["name"]
        changes = []
        if idle_replicas < live_replicas:
            changes.append(
                f"scale {opts.colours[desired]} from {idle_replicas} to {live_replicas} replicas and wait until "
                "they are ready (no traffic is switched before)"
            )
        changes.append(f"switch Service {svc_name} selector {opts.selector_key}: {world.live} → {desired}")
        if world.virtual_service is not None:
            changes.append(f"switch VirtualService {opts.virtual_service} route subset: {world.live} → {desired}")
        bad = opts.colours[world.live]
        changes.append(
            {
                "keep": f"keep {bad} running, without traffic, for forensics (after_switch: keep)",
                "scale_to_zero": f"once verified, scale {bad} to 0 (after_switch: scale_to_zero)",
                "delete": f"once verified, delete {bad} if a second person approves (after_switch: delete)",
            }[opts.after_switch]
        )
        return Plan(
            **common,
            current=current_rev,
            desired=desired_rev,
            changes=tuple(changes),
            warnings=owner_warning(self._owner(world)),
            operations=tuple(traffic.selector_patch(world.service, opts.selector_key, desired)),
            summary=f"switching {svc_name} to {desired}",
        )

    @staticmethod
    def _owner(world: _World) -> gitops.GitOpsOwner | None:
        return gitops.detect_any([world.service, world.virtual_service, *world.deployments.values()])

    def sync_owner(self, target: Target) -> gitops.GitOpsOwner | None:
        """Argo CD or Flux managing the Service, the VirtualService or a colour would switch traffic back."""
        return self._owner(self._read(target))

    def _colour(self, plan: Plan) -> str:
        return plan.desired.label if plan.desired else ""

    def prepare(self, plan: Plan, progress: Callable[[Progress], None], timeout_seconds: float) -> str:
        """Make the colour to switch to ready: scale it up if it was scaled down, then wait for its rollout."""
        world, colour = self._read(plan.target), self._colour(plan)
        name = world.options.colours[colour]
        live = (world.deployments[world.live] or {}).get("spec", {}).get("replicas", 1)
        idle = (world.deployments[colour] or {}).get("spec", {}).get("replicas", 1)
        colour_target = replace(plan.target, workload=name)
        if idle < live:
            self.deployments.scale(colour_target, live)
        self.deployments.wait(colour_target, progress, timeout_seconds)
        return f"{name} scaled from {idle} to {live} replicas and ready" if idle < live else f"{name} is ready"

    def is_applied(self, plan: Plan) -> bool:
        world = self._read(plan.target)
        return world.live == self._colour(plan) and traffic.subset_of(world.virtual_service) in (None, world.live)

    def apply(self, plan: Plan) -> None:
        """The selector switch (guarded by the Service's resourceVersion), then the Istio route."""
        t, colour = plan.target, self._colour(plan)
        opts: BlueGreen = from_options(BlueGreen, t.options)
        name = opts.service or t.service
        try:
            self.api.write(Call("patch", "services", t.namespace, name), [dict(op) for op in plan.operations])
        except CallFailed as failed:
            world = self._read(t)  # what happened: the switch landed after all, or someone changed the Service
            if world.live != colour:
                if failed.status in (409, 422) or world.service["metadata"].get("resourceVersion") != plan.guard:
                    raise RollbackError(
                        f"service {t.namespace}/{name} changed after this plan was made (it selects "
                        f"{opts.selector_key}={world.live}); nothing was switched. Plan the rollback again."
                    ) from failed
                raise explain(failed, "nothing was switched (the bot read the Service again to make sure)") from failed
        if opts.virtual_service:
            self._switch_route(t, opts, colour)

    def _switch_route(self, t: Target, opts: BlueGreen, colour: str) -> None:
        vs = self._read(t).virtual_service
        ops = traffic.subset_patch(vs, colour) if vs else []
        if not ops:
            return
        try:
            self.api.write(Call("patch", "virtualservices", t.namespace, opts.virtual_service), ops)
        except CallFailed as failed:
            if traffic.subset_of(self._read(t).virtual_service) == colour:
                return
            raise explain(
                failed,
                f"the Service already selects {colour}, but the VirtualService still routes to the other colour",
                f"Switch it by hand: `kubectl edit virtualservice/{opts.virtual_service} -n {t.namespace}`.",
            ) from failed

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Until every ready endpoint of the Service is a pod of the new colour."""
        deadline = self.deployments._now() + timeout_seconds
        last = None
        while True:
            world = self._read(target)
            colour = list(world.options.colours)[(target.to_revision or 1) - 1]
            on, total = self._endpoints(target, world, colour)
            state = Progress(f"traffic: {on}/{total} endpoints on {colour}", total, on, on, on == total and on > 0)
            if state != last:
                progress(state)
                last = state
            if state.done:
                return
            if self.deployments._now() >= deadline:
                raise RollbackError(
                    f"the Service's endpoints did not move to {colour} before the deadline ({state.message}); "
                    f"check `kubectl get endpoints/{world.service['metadata']['name']} -n {target.namespace}`"
                )
            self.clock.sleep(0.5)

    def _endpoints(self, target: Target, world: _World, colour: str) -> tuple[int, int]:
        name = world.service["metadata"]["name"]
        ep = self._maybe(Call("get", "endpoints", target.namespace, name)) or {}
        addresses = [a for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
        pods = self.api.read(
            Call("list", "pods", target.namespace), label_selector=f"{world.options.selector_key}={colour}"
        ).get("items") or []
        names = {p["metadata"]["name"] for p in pods}
        on = sum(1 for a in addresses if (a.get("targetRef") or {}).get("name") in names)
        return on, len(addresses)

    def verify(self, plan: Plan) -> Verification:
        t, colour = plan.target, self._colour(plan)
        try:
            world = self._read(t)
            on, total = self._endpoints(t, world, colour)
            deployment = self.deployments.verify(
                replace(plan, target=replace(t, workload=world.options.colours[colour]))
            )
        except CallFailed as failed:
            raise explain(failed, VERIFY_CONSEQUENCE) from failed
        checks = [
            Check("selector", world.live == colour, f"Service selects {world.options.selector_key}={world.live}"),
            *(c for c in deployment.checks if c.name != "endpoints"),
            Check("endpoints", on == total and on > 0, f"{on}/{total} ready endpoints on {colour}"),
        ]
        if world.virtual_service is not None:
            subset = traffic.subset_of(world.virtual_service)
            checks.append(Check("route", subset == colour, f"VirtualService routes to subset {subset}"))
        return Verification(tuple(checks))

    def after_switch(self, plan: Plan) -> str:
        """What the catalog says to do with the bad colour once the good one is verified (``delete``: not here)."""
        opts: BlueGreen = from_options(BlueGreen, plan.target.options)
        bad = plan.current.name
        if opts.after_switch == "scale_to_zero":
            self.deployments.scale(replace(plan.target, workload=bad), 0)
            return f"{bad} scaled to 0"
        if opts.after_switch == "delete":
            return f"{bad} kept until a second person approves its deletion"
        return f"{bad} kept running without traffic, for forensics"

    def delete(self, plan: Plan) -> None:
        """The bad colour's Deployment, deleted (after a second person approved)."""
        t = plan.target
        try:
            self.api.write(Call("delete", "deployments", t.namespace, plan.current.name))
        except CallFailed as failed:
            if failed.status != 404:
                raise explain(failed, f"{plan.current.name} was not deleted") from failed

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: scale the colour that serves traffic now."""
        world = self._read(target)
        self.deployments.scale(replace(target, workload=world.options.colours[world.live]), replicas)

    def target_print(self, plan: Plan) -> dict:
        """What traffic moves to: the pod template of the colour's Deployment, as it is now."""
        return self._deployment_print(plan)
