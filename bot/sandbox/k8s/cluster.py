"""``Cluster``: the object store plus the controllers, seeded from a scenario and driven by the SimClock."""

from __future__ import annotations

import base64
import copy
import json
import random
import threading
import zlib

from ..clock import SimClock
from ..scenario import Revision, Scenario, ServiceSpec
from . import controller, gitops, jobs, pods, statefulsets, topologies, writes
from . import objects as o
from .faults import Faults
from .requests import RequestLog
from .resources import BY_PLURAL, Resource
from .selectors import label_matcher
from .store import Store

NS, DEPLOY, RS, POD = (BY_PLURAL[p] for p in ("namespaces", "deployments", "replicasets", "pods"))
SVC, EVENT, JOB = BY_PLURAL["services"], BY_PLURAL["events"], BY_PLURAL["jobs"]
STS, CR = BY_PLURAL["statefulsets"], BY_PLURAL["controllerrevisions"]
CM, SECRET = BY_PLURAL["configmaps"], BY_PLURAL["secrets"]
SEED_STEP = 1.0  # simulated seconds between controller passes while the scenario's history is replayed


class Cluster:
    def __init__(self, scenario: Scenario, clock: SimClock) -> None:
        self.scenario, self.clock = scenario, clock
        self.store = Store()
        self.rand = random.Random()
        self.stopped = threading.Event()  # set by stop(): open watches end
        self.faults = Faults(self.stopped)  # errors, stalls and hung watches on demand
        self.requests = RequestLog()  # every resource request served, for RBAC tests
        self._frozen: float | None = None  # simulated "now" while replaying the scenario's history
        self._thread: threading.Thread | None = None
        self.self_heal = gitops.SelfHeal()  # Argo CD / Flux putting back what Git says
        with self.store.lock:
            self._seed()
        self.tick()

    # --- public API ----------------------------------------------------------------------------------------
    def list(
        self, resource: str, namespace: str | None = None, selector: dict[str, str] | None = None
    ) -> list[dict]:
        self.tick()
        with self.store.lock:
            return copy.deepcopy(self.store.list(BY_PLURAL[resource], namespace, label_matcher(selector)))

    def get(self, resource: str, namespace: str | None, name: str) -> dict | None:
        self.tick()
        with self.store.lock:
            return copy.deepcopy(self.store.get(BY_PLURAL[resource], namespace, name))

    def patch(self, resource: str, namespace: str, name: str, body: dict, manager: str) -> dict:
        """A merge patch as the API server applies it (for the sandbox's own scripted changes)."""
        with self.store.lock:
            out = writes.patch(
                self, BY_PLURAL[resource], namespace, name, writes.MERGE_PATCH, json.dumps(body).encode(), None,
                manager=manager,
            )
        self.tick()
        return out

    def tick(self) -> None:
        """Run the controllers and the pod simulation at the clock's now until nothing changes."""
        with self.store.lock:
            self.self_heal.run(self)
            for _ in range(25):
                before = self.store.rv
                for pod in list(self.store.list(POD)):
                    (jobs.simulate_pod if jobs.is_job_pod(pod) else pods.simulate_pod)(self, pod)
                for job in list(self.store.list(JOB)):
                    jobs.sync_job(self, job)
                for rs in list(self.store.list(RS)):
                    pods.sync_replicaset(self, rs)
                for d in list(self.store.list(DEPLOY)):
                    if self.store.get(DEPLOY, d["metadata"]["namespace"], d["metadata"]["name"]) is d:
                        controller.sync_deployment(self, d)
                for s in list(self.store.list(STS)):
                    if self.store.get(STS, s["metadata"]["namespace"], s["metadata"]["name"]) is s:
                        statefulsets.sync_statefulset(self, s)
                for svc in list(self.store.list(SVC)):
                    pods.sync_endpoints(self, svc)
                if self.store.rv == before:
                    return

    def start(self, interval: float = 0.05) -> Cluster:
        """Tick from a background thread so watches see changes without requests."""
        self.stopped.clear()

        def run() -> None:
            while not self.stopped.wait(interval):
                self.tick()

        self._thread = threading.Thread(target=run, name="k8s-sim-controllers", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        with self.store.lock:
            self.store.changed.notify_all()
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    # --- writes used by the controllers and the API (callers hold store.lock) ------------------------------
    def now(self) -> float:
        return self._frozen if self._frozen is not None else self.clock.now()

    def create(self, res: Resource, obj: dict, ts: float | None = None) -> dict:
        return self.store.create(res, obj, o.iso(self.now() if ts is None else ts))

    def write(self, res: Resource, obj: dict) -> dict:
        return self.store.update(res, obj)

    def remove(
        self, res: Resource, namespace: str | None, name: str, propagation: str = "Background"
    ) -> dict:
        """Delete an object; dependents (controller ownerReferences) go too, unless orphaned."""
        obj = self.store.delete(res, namespace, name)
        uid = obj["metadata"]["uid"]
        for dep_res in (RS, POD, CR):
            for dep in list(self.store.list(dep_res, namespace or None)):
                refs = dep["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                if propagation == "Orphan":
                    dep["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    self.write(dep_res, dep)
                else:
                    self.remove(dep_res, dep["metadata"]["namespace"], dep["metadata"]["name"], propagation)
        if res is NS:
            for other in BY_PLURAL.values():
                if other.namespaced:
                    for item in list(self.store.list(other, name)):
                        self.store.delete(other, name, item["metadata"]["name"])
        return obj

    def record_event(self, involved: dict, reason: str, message: str, kind: str = "Normal") -> None:
        meta = involved["metadata"]
        when = o.iso(self.now())
        self.create(
            EVENT,
            {
                "metadata": {
                    "name": f"{meta['name']}.{self.rand.getrandbits(64):016x}",
                    "namespace": meta["namespace"],
                },
                "involvedObject": {
                    "kind": involved["kind"],
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "apiVersion": involved["apiVersion"],
                    "resourceVersion": meta.get("resourceVersion", ""),
                },
                "reason": reason,
                "message": message,
                "source": {"component": "deployment-controller"},
                "firstTimestamp": when,
                "lastTimestamp": when,
                "count": 1,
                "type": kind,
                "eventTime": None,
                "reportingComponent": "deployment-controller",
                "reportingInstance": "",
            },
        )

    # --- the scenario's world -----------------------------------------------------------------------------
    def _seed(self) -> None:
        now = self.clock.now()
        services = [s for s in self.scenario.services if s.on_kubernetes]  # ECS services live in moto
        oldest = max((r.age_hours for s in services for r in s.revisions), default=0.0)
        extra = {gitops.namespace_of(s.gitops) for s in services if s.gitops}
        extra |= {ns for s in services if (ns := ((s.catalog or {}).get("backup_job") or {}).get("namespace"))}
        for ns in ["default", "kube-system", "kube-public", *sorted({s.namespace for s in services} | extra)]:
            if self.store.get(NS, None, ns) is None:
                self.create(
                    NS,
                    {
                        "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    },
                    now - oldest * 3600 - 86400,
                )
        for svc in services:
            self._seed_config(svc, now - max((r.age_hours for r in svc.revisions), default=0.0) * 3600 - 60)
            topologies.seed(self, svc, now)
        self._frozen = None

    def _seed_config(self, svc: ServiceSpec, created: float) -> None:
        """The ConfigMaps and Secrets a service reads, there before its first release, as ``kubectl apply``
        leaves them."""
        for res, items in ((CM, svc.configmaps), (SECRET, svc.secrets)):
            for name, values in items.items():
                data = {k: str(v) for k, v in values.items()}
                if res is SECRET:
                    data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
                meta = {"name": name, "namespace": svc.namespace, "labels": {"app": svc.name}}
                obj = {"metadata": meta, "data": data}
                if res is SECRET:
                    obj["type"] = "Opaque"
                o.stamp_manager(obj, res, "kubectl-client-side-apply", o.iso(created))
                self.create(res, obj, created)

    def _seed_service(self, svc: ServiceSpec, now: float) -> None:
        revisions = svc.revisions or (Revision(image=f"registry.local/{svc.name}:latest"),)
        times = [now - r.age_hours * 3600 for r in revisions] + [now]
        container = {
            "name": svc.container,
            "image": revisions[0].image,
            "ports": [{"containerPort": svc.port, "protocol": "TCP"}],
        }
        if svc.kind == "StatefulSet":
            return self._seed_statefulset(svc, revisions, times, container)
        d = {
            "metadata": {
                "name": svc.name,
                "namespace": svc.namespace,
                "labels": dict(svc.labels) | gitops.labels(svc),
                "annotations": {},
                "generation": 1,
            },
            "spec": {
                "replicas": svc.replicas,
                "selector": {"matchLabels": dict(svc.labels)},
                "template": {"metadata": {"labels": dict(svc.labels)}, "spec": {"containers": [container]}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
        }
        o.default_deployment(d)
        for i, rev in enumerate(revisions):
            self._frozen = times[i]
            _set_release(d["spec"]["template"]["spec"]["containers"][0], rev)
            annotations = d["metadata"].setdefault("annotations", {})
            annotations.pop(o.CHANGE_CAUSE, None)
            if rev.change_cause:
                annotations[o.CHANGE_CAUSE] = rev.change_cause
            if i == 0:
                self.create(DEPLOY, d)
                self._seed_service_object(svc)
            else:
                d["metadata"]["generation"] += 1
                self.write(DEPLOY, d)
            while self._frozen < times[i + 1] - SEED_STEP:  # let the rollout run its course in simulated time
                self.tick()
                status = d.get("status") or {}
                if controller._complete(d, status) and (status.get("replicas") or 0) == svc.replicas:
                    break
                self._frozen += SEED_STEP
        if svc.gitops:
            self.create(*gitops.owner_object(svc))

    def _seed_statefulset(
        self, svc: ServiceSpec, revisions: tuple[Revision, ...], times: list[float], container: dict
    ) -> None:
        """Like a Deployment's history: one release after another, each rolled out in simulated time."""
        s = statefulsets.new_statefulset(svc.name, svc.namespace, svc.labels, svc.replicas, container)
        for i, rev in enumerate(revisions):
            self._frozen = times[i]
            _set_release(s["spec"]["template"]["spec"]["containers"][0], rev)
            s["metadata"]["annotations"].pop(o.CHANGE_CAUSE, None)
            if rev.change_cause:
                s["metadata"]["annotations"][o.CHANGE_CAUSE] = rev.change_cause
            if i == 0:
                self.create(STS, s)
                self._seed_service_object(svc)
            else:
                s["metadata"]["generation"] += 1
                self.write(STS, s)
            while self._frozen < times[i + 1] - SEED_STEP:
                self.tick()
                if statefulsets.complete(s):
                    break
                self._frozen += SEED_STEP

    def _seed_service_object(self, svc: ServiceSpec) -> None:
        h = zlib.crc32(f"{svc.namespace}/{svc.name}".encode())
        ip = f"10.96.{(h >> 8) % 250 + 1}.{h % 250 + 2}"
        self.create(
            SVC,
            {
                "metadata": {"name": svc.name, "namespace": svc.namespace, "labels": dict(svc.labels)},
                "spec": {
                    "selector": dict(svc.labels),
                    "type": "ClusterIP",
                    "clusterIP": ip,
                    "clusterIPs": [ip],
                    "ports": [{"name": "http", "port": svc.port, "targetPort": svc.port, "protocol": "TCP"}],
                    "sessionAffinity": "None",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "internalTrafficPolicy": "Cluster",
                },
                "status": {"loadBalancer": {}},
            },
        )


def _set_release(container: dict, rev: Revision) -> None:
    """A release of the scenario in the pod template: its image, and its env when it has one."""
    container["image"] = rev.image
    if rev.env:
        container["env"] = rev.container_env()
    else:
        container.pop("env", None)
