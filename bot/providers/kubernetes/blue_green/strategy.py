"""Blue-green: switch the Service's selector (and the Istio route, if any) back to the other colour.

A traffic move, not a workload move: the Deployments stay as they are. The idle colour is
made ready first (scaled up to the live colour's replicas when it was scaled down), so no
request is switched to a colour that cannot serve it. Its "revisions" are the colours,
numbered in the catalog's order, the live one last (as ``rollout history`` lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.providers.kubernetes import gitops, rollout_rules, traffic_patches
from bot.providers.kubernetes.api import Call, CallFailed, explain
from bot.providers.kubernetes.blue_green.options import BlueGreen
from bot.providers.kubernetes.blue_green.spec import SPEC
from bot.providers.kubernetes.blue_green.state import BlueGreenState
from bot.providers.kubernetes.deployments import OnDeployments
from bot.providers.kubernetes.locator import k8s, with_workload
from bot.providers.kubernetes.outcomes import NOTHING_CHANGED, VERIFY_CONSEQUENCE, owner_warning
from bot.strategies.base import Check, Plan, Progress, ReleaseLive, Revision, RollbackError, Target, Verification
from bot.strategies.options import from_options


class BlueGreenSwitch(OnDeployments):
    """The ``Strategy`` for ``strategy: blue-green``; ``KubernetesUndo`` reads, scales and follows the colours."""

    name = "blue-green"
    steps = SPEC.steps

    # -- reading -----------------------------------------------------------------------------

    def _read(self, target: Target) -> BlueGreenState:
        opts: BlueGreen = from_options(BlueGreen, target.options)
        name = opts.service or target.service
        try:
            svc = self.api.read(Call("get", "services", k8s(target).namespace, name))
            deployments = {
                c: self._maybe(Call("get", "deployments", k8s(target).namespace, d)) for c, d in opts.colours.items()
            }
            vs = (
                self._maybe(Call("get", "virtualservices", k8s(target).namespace, opts.virtual_service))
                if opts.virtual_service
                else None
            )
        except CallFailed as failed:
            if failed.status == 404 and failed.call.resource == "services":
                raise RollbackError(
                    f"service {k8s(target).namespace}/{name} not found; {NOTHING_CHANGED}. Check blue_green.service "
                    "in the services catalog."
                ) from failed
            raise explain(failed, NOTHING_CHANGED) from failed
        if opts.virtual_service and vs is None:
            raise RollbackError(
                f"VirtualService {k8s(target).namespace}/{opts.virtual_service} not found; {NOTHING_CHANGED}. "
                "Check blue_green.virtual_service in the services catalog."
            )
        live = ((svc.get("spec") or {}).get("selector") or {}).get(opts.selector_key)
        if live not in opts.colours:
            raise RollbackError(
                f"service {k8s(target).namespace}/{name} selects {opts.selector_key}={live}, which is none of the "
                f"catalog's colours ({', '.join(opts.colours)}); {NOTHING_CHANGED}. Check its selector "
                f"(`kubectl get svc/{name} -n {k8s(target).namespace} -o yaml`) and blue_green in the catalog."
            )
        colours = tuple(opts.colours)
        routed = traffic_patches.subset_of(vs, colours)
        routed_all = frozenset(traffic_patches.routed_colours(vs, colours))
        return BlueGreenState(opts, svc, live, deployments, vs, routed, routed_all)

    def _revision(self, world: BlueGreenState, colour: str, target: Target) -> Revision:
        d = world.deployments[colour]
        number = list(world.options.colours).index(colour) + 1
        name = world.options.colours[colour]
        if d is None:
            return Revision(number, "", f"{name} does not exist", name=name, label=colour)
        template = rollout_rules.deployment_template(d)
        return Revision(
            number=number,
            image=rollout_rules.container_image(template, k8s(target).container),
            change_cause=rollout_rules.annotations(d).get(rollout_rules.CHANGE_CAUSE, "") or f"Deployment {name}",
            created_at=rollout_rules.parse_time(d["metadata"].get("creationTimestamp")),
            name=name,
            label=colour,
        )

    # -- the Strategy protocol ---------------------------------------------------------------

    def history(self, target: Target) -> list[Revision]:
        """The colours, the one the Service selects last; a half-switched service says so on it."""
        world = self._read(target)
        idle = [c for c in world.options.colours if c != world.live]
        revisions = [self._revision(world, c, target) for c in (*idle, world.live)]
        if world.split:
            revisions[-1] = replace(revisions[-1], change_cause=f"traffic half-switched: {world.split}")
        return revisions

    def plan(self, target: Target) -> Plan:
        world = self._read(target)
        opts, colours = world.options, list(world.options.colours)
        if target.to_revision is not None and not 1 <= target.to_revision <= len(colours):
            raise RollbackError(f"there is no colour number {target.to_revision}; the colours are {', '.join(colours)}")
        desired = colours[target.to_revision - 1] if target.to_revision else next(c for c in colours if c != world.live)
        desired_rev = self._revision(world, desired, target)
        guard = world.service["metadata"].get("resourceVersion", "")
        common = dict(strategy=self.name, target=replace(target, to_revision=desired_rev.number), guard=guard)
        if world.on(desired):
            return Plan(**common, current=desired_rev, desired=desired_rev, skipped=f"already on {desired}")
        leaving = self._leaving(world, desired)
        current_rev = self._revision(world, leaving, target)
        self._refuse_pointless(world, target, desired, current_rev, desired_rev)
        svc_name = world.service["metadata"]["name"]
        verb = traffic_patches.FINISHING if world.split else "switching"
        return Plan(
            **common,
            current=current_rev,
            desired=desired_rev,
            changes=tuple(self._changes(world, desired, leaving)),
            warnings=(*self._split_warning(world, desired, leaving), *owner_warning(self._owner(world))),
            operations=tuple(
                traffic_patches.selector_patch(world.service, opts.selector_key, desired)
                if world.live != desired
                else ()
            ),
            summary=f"{verb} {svc_name} to {desired}",
            half_done=world.split,
        )

    @staticmethod
    def _leaving(world: BlueGreenState, desired: str) -> str:
        """The colour traffic leaves: the one the Service selects, or (half-switched) the one the mesh routes."""
        if world.live != desired:
            return world.live
        return world.routed if world.routed not in (None, desired) else min(world.routed_all - {desired})

    @staticmethod
    def _refuse_pointless(world: BlueGreenState, target: Target, desired: str, current: Revision, to: Revision) -> None:
        """No switch to a colour without a Deployment, nor (unless finishing a half-done one) to the same image."""
        opts = world.options
        if world.deployments[desired] is None:
            raise RollbackError(
                f"the {desired} colour's Deployment {k8s(target).namespace}/{opts.colours[desired]} does not exist; "
                f"{NOTHING_CHANGED}. Deploy the last good release there first, or roll back {current.name} "
                "itself with kubectl rollout undo."
            )
        if to.image == current.image and not world.split:
            raise RollbackError(
                f"both colours run {current.image}; switching to {desired} would change nothing, so "
                f"{NOTHING_CHANGED}. Deploy the last good release to {opts.colours[desired]} first."
            )

    @staticmethod
    def _split_warning(world: BlueGreenState, desired: str, leaving: str) -> tuple[str, ...]:
        if not world.split:
            return ()
        return (
            f"traffic is half-switched now ({world.split}): this plan finishes the switch to {desired}. To finish "
            f"it to {leaving} instead, choose {leaving} on the incident card.",
        )

    @staticmethod
    def _changes(world: BlueGreenState, desired: str, leaving: str) -> list[str]:
        """What the plan will do, in the order the run does it."""
        opts = world.options
        replicas = {c: ((d or {}).get("spec") or {}).get("replicas", 1) for c, d in world.deployments.items()}
        changes = []
        if replicas[desired] < replicas[leaving]:
            changes.append(
                f"scale {opts.colours[desired]} from {replicas[desired]} to {replicas[leaving]} replicas and wait "
                "until they are ready (no traffic is switched before)"
            )
        svc_name = world.service["metadata"]["name"]
        if world.live != desired:
            changes.append(f"switch Service {svc_name} selector {opts.selector_key}: {world.live} → {desired}")
        else:
            changes.append(f"keep Service {svc_name} selector {opts.selector_key}: {desired} (it is there already)")
        if world.virtual_service is not None and not world.routed_all <= {desired}:
            routed = " and ".join(sorted(world.routed_all - {desired}))
            changes.append(f"switch VirtualService {opts.virtual_service} route subset: {routed} → {desired}")
        bad = opts.colours[leaving]
        changes.append(
            {
                "keep": f"keep {bad} running, without traffic, for forensics (after_switch: keep)",
                "scale_to_zero": f"once verified, scale {bad} to 0 (after_switch: scale_to_zero)",
                "delete": f"once verified, delete {bad} if a second person approves (after_switch: delete)",
            }[opts.after_switch]
        )
        return changes

    @staticmethod
    def _owner(world: BlueGreenState) -> gitops.GitOpsOwner | None:
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
        leaving = plan.current.label if plan.current.label in world.deployments else world.live
        live = (world.deployments[leaving] or {}).get("spec", {}).get("replicas", 1)
        idle = (world.deployments[colour] or {}).get("spec", {}).get("replicas", 1)
        colour_target = with_workload(plan.target, name)
        if idle < live:
            self.deployments.scale(colour_target, live)
        self.deployments.wait(colour_target, progress, timeout_seconds)
        return f"{name} scaled from {idle} to {live} replicas and ready" if idle < live else f"{name} is ready"

    def is_applied(self, plan: Plan) -> bool:
        return self._read(plan.target).on(self._colour(plan))

    def apply(self, plan: Plan) -> None:
        """One logical switch in two writes: the selector (guarded by the Service's resourceVersion; none when it
        is there already), then the Istio routes. When the route cannot follow, the selector goes back."""
        t, colour = plan.target, self._colour(plan)
        opts: BlueGreen = from_options(BlueGreen, t.options)
        moved = bool(plan.operations)  # none when a half-done switch left the selector there already
        if moved:
            self._switch_selector(plan, opts, colour)
        if opts.virtual_service:
            self._switch_route(t, opts, colour, plan.current.label if moved else None)

    def _switch_selector(self, plan: Plan, opts: BlueGreen, colour: str) -> None:
        t = plan.target
        name = opts.service or t.service
        try:
            self.api.write(Call("patch", "services", k8s(t).namespace, name), [dict(op) for op in plan.operations])
        except CallFailed as failed:
            world = self._read(t)  # what happened: the switch landed after all, or someone changed the Service
            if world.live != colour:
                if failed.status in (409, 422) or world.service["metadata"].get("resourceVersion") != plan.guard:
                    raise RollbackError(
                        f"service {k8s(t).namespace}/{name} changed after this plan was made (it selects "
                        f"{opts.selector_key}={world.live}); nothing was switched. Plan the rollback again."
                    ) from failed
                raise explain(failed, "nothing was switched (the bot read the Service again to make sure)") from failed

    def _switch_route(self, t: Target, opts: BlueGreen, colour: str, back: str | None) -> None:
        """The colour routes to ``colour``. If that fails, the selector this run moved goes ``back`` (so traffic
        is whole again, on the old colour), and the error says exactly where traffic is."""
        name = opts.virtual_service
        try:
            vs = self.api.read(Call("get", "virtualservices", k8s(t).namespace, name))
            ops = traffic_patches.subset_patch(vs, colour, tuple(opts.colours))
            if not ops:
                return
            self.api.write(Call("patch", "virtualservices", k8s(t).namespace, name), ops)
        except CallFailed as failed:
            try:
                world: BlueGreenState | None = self._read(t)
            except (CallFailed, RollbackError):
                world = None
            if world is not None and world.on(colour):
                return  # the answer was lost, the patch landed
            if world is None:
                where = (
                    "the bot could not read the Service and the VirtualService again, so where traffic goes now "
                    f"is unknown (the Service was switched to {colour})"
                )
            else:
                where = self._undo_selector(t, world, colour, back)
            raise explain(
                failed,
                where,
                "*Finish the switch* on the incident card plans what is left (you see the plan first), or switch "
                f"the route by hand: `kubectl edit virtualservice/{name} -n {k8s(t).namespace}`.",
            ) from failed

    def _undo_selector(self, t: Target, world: BlueGreenState, colour: str, back: str | None) -> str:
        """Put the selector this run moved to ``colour`` ``back`` (guarded by the resourceVersion just read;
        not when someone else moved it since); where traffic is, in words."""
        key, name = world.options.selector_key, world.service["metadata"]["name"]
        if back is None or world.live != colour:
            return f"traffic is half-switched: {world.split}" if world.split else f"all traffic is on {world.live}"
        try:
            ops = traffic_patches.selector_patch(world.service, key, back)
            self.api.write(Call("patch", "services", k8s(t).namespace, name), ops)
        except CallFailed as undo:
            return (
                f"traffic is half-switched: {world.split}; switching the Service back to {back} failed too "
                f"({undo.problem})"
            )
        return (
            f"the Service {name} was switched back to {key}={back}, so all traffic is on {back} again, as before "
            "the rollback: nothing is half-switched"
        )

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
                    f"check `kubectl get endpoints/{world.service['metadata']['name']} -n {k8s(target).namespace}`"
                )
            self.clock.sleep(0.5)

    def _endpoints(self, target: Target, world: BlueGreenState, colour: str) -> tuple[int, int]:
        name = world.service["metadata"]["name"]
        ep = self._maybe(Call("get", "endpoints", k8s(target).namespace, name)) or {}
        addresses = [a for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
        pods = self.api.read(
            Call("list", "pods", k8s(target).namespace), label_selector=f"{world.options.selector_key}={colour}"
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
                replace(plan, target=with_workload(t, world.options.colours[colour]))
            )
        except CallFailed as failed:
            raise explain(failed, VERIFY_CONSEQUENCE) from failed
        checks = [
            Check("selector", world.live == colour, f"Service selects {world.options.selector_key}={world.live}"),
            *(c for c in deployment.checks if c.name != "endpoints"),
            Check("endpoints", on == total and on > 0, f"{on}/{total} ready endpoints on {colour}"),
        ]
        if world.virtual_service is not None:
            routed = " and ".join(sorted(world.routed_all)) or "no colour"
            checks.append(Check("route", world.routed_all == {colour}, f"VirtualService routes to subset {routed}"))
        return Verification(tuple(checks))

    def after_switch(self, plan: Plan) -> str:
        """What the catalog says to do with the bad colour once the good one is verified (``delete``: not here)."""
        opts: BlueGreen = from_options(BlueGreen, plan.target.options)
        bad = plan.current.name
        if opts.after_switch == "scale_to_zero":
            self.deployments.scale(with_workload(plan.target, bad), 0)
            return f"{bad} scaled to 0"
        if opts.after_switch == "delete":
            return f"{bad} kept until a second person approves its deletion"
        return f"{bad} kept running without traffic, for forensics"

    def delete(self, plan: Plan) -> None:
        """The bad colour's Deployment, deleted (after a second person approved), only if the cluster, read
        again now, shows it idle and still running the release the rollback left: a button remembers the
        world as it was when it was posted."""
        t, name, colour = plan.target, plan.current.name, plan.current.label
        world = self._read(t)
        serving = world.serving(colour)
        if serving:
            raise ReleaseLive(f"{name} serves traffic again ({serving}), so it was not deleted")
        d = world.deployments.get(colour)
        image = plan.current.image
        if d:
            image = rollout_rules.container_image(rollout_rules.deployment_template(d), k8s(t).container)
        if image != plan.current.image:
            raise ReleaseLive(
                f"{name} now runs {image}, not the bad release {plan.current.image} this button was for, so it "
                "was not deleted"
            )
        try:
            self.api.write(Call("delete", "deployments", k8s(t).namespace, name))
        except CallFailed as failed:
            if failed.status != 404:
                raise explain(failed, f"{name} was not deleted") from failed

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: scale the colour that serves traffic now."""
        world = self._read(target)
        self.deployments.scale(with_workload(target, world.options.colours[world.live]), replicas)

    def target_print(self, plan: Plan) -> dict:
        """What traffic moves to: the pod template of the colour's Deployment, as it is now."""
        return self._deployment_print(plan)
