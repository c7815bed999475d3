"""Playing the chaos bench's incidents: one service's incident end to end, with its fault, and six at once.

A ``Target`` is a service as the bench sees it: where the bot's rollback patch lands (counted by a sandbox
fault rule that only counts, so a second patch is a duplicate), whether what is live is the good release,
and how to put the bad release back for the next incident. A ``Player`` clicks through incidents of one
World as the on-call engineer does, with the faults of ``bench/chaos.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from kubernetes import client

from bot.providers.kubernetes.traffic_patches import subset_of, subset_patch
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.k8s.faults import Rule
from bot.sandbox.scenario import ServiceSpec
from bot.sandbox.world import ONCALL, World
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_ROOT_CAUSE, ActionId, CallbackId
from bot.state import runs
from bot.state.models import Incident

FAILED_OUTCOMES = ("NOT healthy", "FAILED")
OUTCOMES = ("and verified", "NOT healthy", "FAILED", "could NOT verify", "did not start")
ISTIO = ("networking.istio.io", "v1")
OUTAGE_SECONDS = 20  # k8s-500-bake: every API request answers 500 for this long, from the bake's start
GITOPS = {  # the scenario's gitops value -> (resource, namespace) of the object that syncs the Deployment
    "argocd": ("applications", "argocd"),
    "flux": ("kustomizations", "flux-system"),
}
GITOPS_TITLE = {"applications": "Argo CD Application", "kustomizations": "Flux Kustomization"}


class Kube:
    """The python client's APIs, on the world's kubeconfig."""

    def __init__(self, api: client.ApiClient) -> None:
        self.apps, self.core, self.custom = client.AppsV1Api(api), client.CoreV1Api(api), client.CustomObjectsApi(api)

    def virtual_service(self, namespace: str, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(*ISTIO, namespace, "virtualservices", name)

    def wait_rolled_out(self, namespace: str, name: str, timeout: float = 60) -> None:
        """Until every replica of the Deployment is updated and available (as `kubectl rollout status`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.apps.read_namespaced_deployment(name, namespace)
            s = d.status
            if s.updated_replicas == d.spec.replicas == s.available_replicas and s.replicas == d.spec.replicas:
                return
            time.sleep(0.3)


@dataclass(frozen=True)
class Target:
    """A Deployment rolled back by ``rollout undo``: the bad release is the newest revision, the good one
    the one before (what *Roll back to previous* goes to, every incident)."""

    service: str
    namespace: str
    good: str  # image
    bad: str
    container: str = "app"
    gitops: str | None = None  # "argocd" or "flux": the object whose sync the run suspends

    @classmethod
    def of(cls, spec: ServiceSpec) -> Target:
        if spec.blue_green:
            bg = spec.blue_green
            good = next(c for c in bg.colours if c != bg.active)
            return BlueGreenTarget(spec.name, spec.namespace, good, bg.active, selector_key=bg.selector_key)
        return cls(spec.name, spec.namespace, spec.revisions[-2].image, spec.revisions[-1].image, spec.container,
                   spec.gitops)

    def count_patches(self, world: World) -> Rule:
        """A rule that only counts the rollback's patches that the API server carried out."""
        return world.k8s_faults.delay(0.0, after=True, verb="patch", resource="deployments",
                                      namespace=self.namespace, name=self.service)

    def is_good(self, kube: Kube) -> bool:
        d = kube.apps.read_namespaced_deployment(self.service, self.namespace)
        return next(c.image for c in d.spec.template.spec.containers if c.name == self.container) == self.good

    def redeploy_bad(self, kube: Kube) -> None:
        body = {"spec": {"template": {"spec": {"containers": [{"name": self.container, "image": self.bad}]}}}}
        kube.apps.patch_namespaced_deployment(self.service, self.namespace, body)
        kube.wait_rolled_out(self.namespace, self.service)

    def owner(self) -> tuple[str, str, str]:
        """(resource, namespace, name) of the GitOps object syncing it (named after the service)."""
        return (*GITOPS[self.gitops], self.service)


@dataclass(frozen=True)
class BlueGreenTarget(Target):
    """A blue-green service: ``good`` and ``bad`` are colours; the rollback patches the Service selector,
    then the VirtualService's colour routes."""

    selector_key: str = "version"

    def count_patches(self, world: World) -> Rule:
        return world.k8s_faults.delay(0.0, after=True, verb="patch", resource="services",
                                      namespace=self.namespace, name=self.service)

    def live(self, kube: Kube) -> tuple[str, str | None]:
        """(the colour the Service selects, the colour the mesh routes its ordinary traffic to)."""
        selector = kube.core.read_namespaced_service(self.service, self.namespace).spec.selector
        vs = kube.virtual_service(self.namespace, self.service)
        return selector.get(self.selector_key), subset_of(vs, (self.good, self.bad))

    def is_good(self, kube: Kube) -> bool:
        return self.live(kube) == (self.good, self.good)

    def redeploy_bad(self, kube: Kube) -> None:
        """Selector and colour routes back on the bad colour, as a later bad deploy would; it serves at once
        (its Deployment was kept running: ``after_switch: keep``)."""
        body = {"spec": {"selector": {self.selector_key: self.bad}}}
        kube.core.patch_namespaced_service(self.service, self.namespace, body)
        vs = kube.virtual_service(self.namespace, self.service)
        if ops := subset_patch(vs, self.bad, (self.good, self.bad)):
            kube.custom.patch_namespaced_custom_object(
                *ISTIO, self.namespace, "virtualservices", self.service, ops,
                _content_type="application/json-patch+json",
            )
        kube.wait_rolled_out(self.namespace, f"{self.service}-{self.bad}")


@dataclass
class Played:
    """One incident under way: its channel, its patch counter, what the person was told."""

    target: Target
    key: str = ""
    channel_id: str = ""
    patches: Rule | None = None
    outcome: str = ""


class Player:
    """The on-call engineer playing incidents of one World; the counts are the bench's."""

    def __init__(self, world: World, bot: BotHarness, workers, admin, counts: dict[str, int], kube: Kube) -> None:
        self.world, self.bot, self.workers, self.admin = world, bot, workers, admin
        self.counts, self.kube = counts, kube
        self.alice = OnCall(bot, ONCALL)

    # ------------------------------------------------------------------------------ one incident, one fault

    def play(self, target: Target, fault: str, note: str) -> str:
        """Declare, *Roll back to previous*, *Confirm* with ``fault``, wait for the outcome, resolve, redeploy."""
        inc, before = self.declare(target, note), None
        try:
            self.ask_rollback(inc)
            before = self.inject(target, fault)
            self.alice.click(inc.channel_id, ActionId.CONFIRM_ROLLBACK)
            self.counts["confirmed runs"] += 1
            helper = threading.Thread(target=self.during_run, args=(target, fault))
            helper.start()
            self.await_outcome(inc)
            helper.join()
        except TimeoutError as exc:
            self.unanswered(inc, exc)
        finally:
            self.world.k8s_faults.clear()
            self.world.slack.set_rate_limit("chat.update", 10**6)
        self.judge(inc)
        if before is not None and inc.outcome in OUTCOMES:
            self.resume_sync(inc, before)
        self.close(inc)
        return inc.outcome

    def play_together(self, targets: list[Target], note: str) -> list[str]:
        """Every target's incident declared, then every rollback asked for, then confirmed in a row."""
        played = [self.declare(t, note) for t in targets]
        try:
            for inc in played:
                self.ask_rollback(inc)
            for inc in played:
                self.alice.click(inc.channel_id, ActionId.CONFIRM_ROLLBACK)
                self.counts["confirmed runs"] += 1
        except TimeoutError as exc:
            self.unanswered(played[0], exc)
        for inc in played:
            try:
                self.await_outcome(inc)
            except TimeoutError as exc:
                self.unanswered(inc, exc)
        self.world.k8s_faults.clear()
        for inc in played:
            self.judge(inc)
            self.close(inc)
        return [f"{inc.target.service}: {inc.outcome}" for inc in played]

    # ------------------------------------------------------------------------------ the steps

    def declare(self, target: Target, note: str) -> Played:
        self.counts["incidents"] += 1
        inc = Played(target, patches=target.count_patches(self.world))
        self.alice.type(f"{target.service} chaos {note}")
        incident = self.bot.wait_for(f"the incident of {target.service}", lambda: self.open_incident(target), 60)
        inc.key = incident.key
        inc.channel_id = self.bot.wait_for("its channel", lambda: self.open_incident(target).channel_id, 60)
        return inc

    def ask_rollback(self, inc: Played) -> None:
        self.alice.message_with(inc.channel_id, ActionId.ROLLBACK_PREVIOUS, timeout=60)
        self.alice.click(inc.channel_id, ActionId.ROLLBACK_PREVIOUS)
        self.alice.message_with(inc.channel_id, ActionId.CONFIRM_ROLLBACK, timeout=60)

    def await_outcome(self, inc: Played) -> None:
        told = self.alice.message_saying(inc.channel_id, *OUTCOMES, timeout=240)
        inc.outcome = next(p for p in OUTCOMES if p in (told.get("text") or ""))

    def unanswered(self, inc: Played, exc: TimeoutError) -> None:
        self.counts["unanswered clicks"] += 1
        inc.outcome = f"no answer: {str(exc).splitlines()[0]}"

    def judge(self, inc: Played) -> None:
        """Patches applied, duplicates, and a false FAILED: the good release went out, the person was told
        it failed."""
        patched = inc.patches.hits
        self.counts["patches applied"] += min(patched, 1)
        self.counts["duplicate patches"] += max(patched - 1, 0)
        if inc.outcome in FAILED_OUTCOMES and patched and inc.target.is_good(self.kube):
            self.counts["false FAILED outcomes"] += 1

    def close(self, inc: Played) -> None:
        """Resolve once the run has ended (resolve is refused while a rollback runs); the bad release again."""
        service = inc.target.service
        self.bot.wait_for("the run to end", lambda: runs.active_run(self.bot.rt.db, service) is None, 300)
        self.alice.type(f"resolve {inc.key}", channel_id=inc.channel_id)
        self.alice.submit(
            self.alice.modal(CallbackId.RESOLVE, timeout=30),
            {RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "chaos"}, RESOLVE_IMPACT: {RESOLVE_IMPACT: "none"}},
        )
        self.bot.wait_for("the incident to close", lambda: self.open_incident(inc.target) is None, 60)
        inc.target.redeploy_bad(self.kube)

    def open_incident(self, target: Target) -> Incident | None:
        def query(s):
            return s.query(Incident).filter(
                Incident.service == target.service, Incident.status.notin_(("resolved", "dismissed"))
            ).first()

        return self.bot.rt.db.transaction(query)

    # ------------------------------------------------------------------------------ faults

    def inject(self, target: Target, fault: str) -> dict | None:
        """Faults set before *Confirm*; for the GitOps crash, the syncing object's spec as it was."""
        faults = self.world.k8s_faults
        if fault == "k8s-409":
            faults.add(409, verb="patch", resource="deployments", times=1)
        elif fault == "k8s-500":
            faults.add(500, verb="get", resource="deployments", times=2)
        elif fault == "k8s-slow":
            faults.delay(3, verb="get", times=3)
        elif fault == "k8s-hung-watch":
            faults.hang_watches(times=2)
        elif fault == "slack-429":
            self.world.slack.set_rate_limit("chat.update", 3)
        elif fault == "slack-500":
            self.world.slack.fail_next("chat.update", 500, times=2)
            self.world.slack.fail_next("chat.postMessage", 500, times=1)
        elif fault == "bg-crash-between-patches":
            self.stalled = faults.add(503, verb="patch", resource="virtualservices", delay=600)
        elif fault == "gitops-crash-after-suspend":
            resource, namespace, name = target.owner()
            self.stalled = faults.delay(600, after=True, verb="patch", resource=resource, times=1)
            self.owner_patches = faults.delay(0.0, after=True, verb="patch", resource=resource)
            return self.world.cluster.get(resource, namespace, name)["spec"]
        return None

    def during_run(self, target: Target, fault: str) -> None:
        """Faults that hit while the run is under way."""
        if fault == "prometheus-down" and self.world.prometheus:
            self.world.prometheus.stop()
            time.sleep(8)
            self.world.prometheus.start()
        elif fault == "worker-killed":
            self.kill_owner(target, lambda run: run.status == "running")
        elif fault == "k8s-500-bake":
            if self.wait_for_step(target, "verify"):
                self.world.k8s_faults.add(500, seconds=OUTAGE_SECONDS)  # every verb, every resource
        elif fault == "db-dropped":
            time.sleep(2)
            self.admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                ("rollback-chaos",),
            )
        elif fault in ("bg-crash-between-patches", "gitops-crash-after-suspend"):
            # The selector is switched and the route patch stalls, or the suspend landed and its answer
            # stalls: the worker holding the run dies there; its stalled request is then answered to no one.
            self.kill_owner(target, lambda run: self.stalled.hits >= 1)
            self.world.k8s_faults.remove(self.stalled)

    def kill_owner(self, target: Target, when, timeout: float = 60) -> bool:
        """SIGKILL the worker holding ``target``'s run once ``when(run)``; another takes over after the lease."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = runs.active_run(self.bot.rt.db, target.service)
            if run is not None and run.lease_owner and when(run):
                return self.workers.kill_owner(run.lease_owner)
            time.sleep(0.1)
        return False

    def wait_for_step(self, target: Target, name: str, timeout: float = 60) -> bool:
        """Until the active run is carrying out step ``name`` (False: it never did within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = runs.active_run(self.bot.rt.db, target.service)
            if run is not None and any(s.name == name and s.status == "running" for s in run.steps):
                return True
            time.sleep(0.1)
        return False

    def resume_sync(self, inc: Played, before: dict) -> None:
        """The outcome says sync is suspended; *Resume sync* puts the syncing object back exactly as it was."""
        resource, namespace, name = inc.target.owner()
        title = f"{GITOPS_TITLE[resource]} {namespace}/{name}"
        self.counts["duplicate patches"] += max(self.stalled.hits + self.owner_patches.hits - 1, 0)  # suspends
        told = self.alice.message_saying(inc.channel_id, *OUTCOMES, timeout=10)
        if f"Sync of the {title} is suspended" not in (told.get("text") or ""):
            self.counts["sync not restored"] += 1
            return
        try:
            self.alice.click(inc.channel_id, ActionId.RESUME_SYNC)
            self.alice.message_saying(inc.channel_id, f"turned sync of the {title} back on", timeout=30)
        except TimeoutError as exc:
            self.unanswered(inc, exc)
        if self.world.cluster.get(resource, namespace, name)["spec"] != before:
            self.counts["sync not restored"] += 1
