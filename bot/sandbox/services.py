"""Service simulator: `/metrics` and `/actuator/health` for each scenario service.

What a service answers follows the pods the Kubernetes simulator has live: each
ready pod serves its share of the traffic the way its image behaves (error rate,
latency, memory), so a rollback shows up in Prometheus within a scrape or two.
Traffic runs on real time, not on the SimClock, because Prometheus computes
rate() against its own wall clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import Request, Response, SandboxServer
from bot.sandbox.routing import Route, routes
from bot.sandbox.scenario import ImageBehaviour, Scenario, ServiceSpec

MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CODES = ("200", "404", "500", "503")
NOT_FOUND_SHARE = 0.01  # of the requests that are not 5xx
LATENCY_SIGMA = 0.5  # log-normal spread; the median is derived so that p95 matches the image
NO_POD_LATENCY = 0.002  # a 503 from the load balancer with no endpoint is fast
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Z95 = NormalDist().inv_cdf(0.95)

RoutesProvider = Callable[[], list[Route]]  # (weight, pods) of each way the traffic goes


def pod_ready(pod: dict) -> bool:
    """Ready condition True and not terminating: the pods a Service would route to."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_container(pod: dict, container: str) -> dict:
    """The named container of a pod, or its first."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return next((c for c in containers if c.get("name") == container), containers[0])


def pod_restarts(pod: dict) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount", 0)) for s in statuses)


def latency_cdf(le: float, p95_seconds: float) -> float:
    """Share of requests faster than ``le`` for a log-normal latency whose 95th percentile is p95."""
    median = max(p95_seconds, 1e-6) / math.exp(Z95 * LATENCY_SIGMA)
    return NormalDist().cdf((math.log(le) - math.log(median)) / LATENCY_SIGMA)


def mean_latency(p95_seconds: float) -> float:
    median = max(p95_seconds, 1e-6) / math.exp(Z95 * LATENCY_SIGMA)
    return median * math.exp(LATENCY_SIGMA**2 / 2)


@dataclass
class _Totals:
    """Running (fractional) totals; exposed floored so counters stay integral and monotonic."""

    codes: dict[str, float]
    buckets: list[float]  # cumulative, one per BUCKETS entry
    count: float = 0.0
    total_seconds: float = 0.0

    @classmethod
    def empty(cls) -> _Totals:
        return cls(codes=dict.fromkeys(CODES, 0.0), buckets=[0.0] * len(BUCKETS))

    def add(self, requests: float, behaviour: ImageBehaviour | None) -> None:
        """Account ``requests`` answered by a pod of ``behaviour``; None means no ready pod: fast 503s."""
        self.count += requests
        if behaviour is None:
            self.codes["503"] += requests
            self.total_seconds += requests * NO_POD_LATENCY
            for i, le in enumerate(BUCKETS):
                self.buckets[i] += requests * (le >= NO_POD_LATENCY)
            return
        errors = requests * behaviour.error_rate
        self.codes["500"] += errors / 2
        self.codes["503"] += errors / 2
        self.codes["404"] += (requests - errors) * NOT_FOUND_SHARE
        self.codes["200"] += (requests - errors) * (1 - NOT_FOUND_SHARE)
        self.total_seconds += requests * mean_latency(behaviour.p95_seconds)
        for i, le in enumerate(BUCKETS):
            self.buckets[i] += requests * latency_cdf(le, behaviour.p95_seconds)


def _labels(**labels: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(str(v))}"' for k, v in labels.items()) + "}"


def _num(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


class ServiceSimulator:
    """The HTTP app of one simulated service (use with ``SandboxServer``)."""

    def __init__(self, spec: ServiceSpec, scenario: Scenario, routes: RoutesProvider, clock: SimClock) -> None:
        self.spec = spec
        self.scenario = scenario
        self.routes = routes
        self.clock = clock  # kept for a uniform simulator signature; traffic itself runs on real time
        self._lock = threading.Lock()
        self._totals = _Totals.empty()
        self._last = time.monotonic()
        self._health_answers: list[Response] = []

    def _behaviour(self, pod: dict) -> ImageBehaviour:
        return self.scenario.container_behaviour(pod, pod_container(pod, self.spec.container))

    def _ready_behaviours(self, pods: list[dict]) -> list[ImageBehaviour]:
        return [self._behaviour(p) for p in pods if pod_ready(p)]

    def _integrate(self, routes: list[Route]) -> None:
        """Add the traffic served since the last call, split as the routes are now; within a route the ready
        pods share it evenly (none ready: fast 503s)."""
        now = time.monotonic()
        total_weight = sum(w for w, _ in routes) or 1.0
        with self._lock:
            requests = self.spec.requests_per_second * max(0.0, now - self._last)
            self._last = now
            for weight, pods in routes:
                share = requests * weight / total_weight
                ready = self._ready_behaviours(pods)
                for behaviour in ready or [None]:
                    self._totals.add(share / max(1, len(ready)), behaviour)

    def served(self) -> tuple[float, float]:
        """(requests, 5xx answers) served so far, the traffic up to now counted (CloudWatch's publisher)."""
        self._integrate(self.routes())
        with self._lock:
            return self._totals.count, self._totals.codes["500"] + self._totals.codes["503"]

    def latencies(self, n: int = 20) -> list[float]:
        """``n`` response times spread as the traffic is now: each route's share of them from its ready pods'
        latency (quantiles of each one's log-normal), fast 503s where no pod is ready."""
        routes = [(w, self._ready_behaviours(pods)) for w, pods in self.routes() if w > 0]
        total, out = sum(w for w, _ in routes) or 1.0, []
        for weight, ready in routes:
            for behaviour in ready or [None]:
                k = max(1, round(n * weight / total / max(1, len(ready))))
                if behaviour is None:
                    out += [NO_POD_LATENCY] * k
                    continue
                median = max(behaviour.p95_seconds, 1e-6) / math.exp(Z95 * LATENCY_SIGMA)
                out += [median * math.exp(LATENCY_SIGMA * NormalDist().inv_cdf((i + 0.5) / k)) for i in range(k)]
        return out

    def pods(self, routes: list[Route] | None = None) -> list[dict]:
        """Every pod that serves some of the traffic, once."""
        seen: dict[str, dict] = {}
        for weight, pods in self.routes() if routes is None else routes:
            for pod in pods if weight > 0 else ():
                seen.setdefault(pod["metadata"]["name"], pod)
        return list(seen.values())

    def metrics_text(self) -> str:
        routes = self.routes()
        self._integrate(routes)
        pods = self.pods(routes)
        base = {"service": self.spec.name, "namespace": self.spec.namespace}
        with self._lock:
            t = self._totals
            codes = {code: math.floor(v) for code, v in t.codes.items()}
            buckets = [math.floor(b) for b in t.buckets]
            count, total_seconds = math.floor(t.count), t.total_seconds
        lines = [
            "# HELP http_requests_total Requests answered, by HTTP status code.",
            "# TYPE http_requests_total counter",
            *(f"http_requests_total{_labels(**base, code=c)} {n}" for c, n in codes.items()),
            "# HELP http_request_duration_seconds Time to answer a request.",
            "# TYPE http_request_duration_seconds histogram",
            *(
                f"http_request_duration_seconds_bucket{_labels(**base, le=_num(le))} {n}"
                for le, n in zip(BUCKETS, buckets, strict=True)
            ),
            f"http_request_duration_seconds_bucket{_labels(**base, le='+Inf')} {count}",
            f"http_request_duration_seconds_sum{_labels(**base)} {total_seconds:.6f}",
            f"http_request_duration_seconds_count{_labels(**base)} {count}",
        ]
        ratios = [self._behaviour(p).memory_ratio for p in pods]
        working_set = MEMORY_LIMIT_BYTES * sum(ratios) / len(ratios) if ratios else 0
        lines += [
            "# HELP container_memory_working_set_bytes Working set of the containers (pod average).",
            "# TYPE container_memory_working_set_bytes gauge",
            f"container_memory_working_set_bytes{_labels(**base)} {int(working_set)}",
            "# HELP container_spec_memory_limit_bytes Memory limit of the service's container.",
            "# TYPE container_spec_memory_limit_bytes gauge",
            f"container_spec_memory_limit_bytes{_labels(**base)} {MEMORY_LIMIT_BYTES}",
            "# HELP kube_pod_container_status_restarts_total Container restarts, per pod.",
            "# TYPE kube_pod_container_status_restarts_total counter",
        ]
        for pod in pods:
            name = (pod.get("metadata") or {}).get("name", "")
            labels = _labels(**base, pod=name, container=self.spec.container)
            lines.append(f"kube_pod_container_status_restarts_total{labels} {pod_restarts(pod)}")
        return "\n".join(lines) + "\n"

    def healthy(self) -> bool:
        """UP when some pod is ready and, weighted as the traffic is split, less than half the requests fail."""
        failing, total = 0.0, 0.0
        for weight, pods in self.routes():
            ready = self._ready_behaviours(pods)
            total += weight
            failing += weight * (sum(b.error_rate for b in ready) / len(ready) if ready else 1.0)
        return total > 0 and bool(self._ready_behaviours(self.pods())) and failing / total < 0.5

    def answer_health(self, *answers: Response) -> None:
        """Test hook: the next ``/actuator/health`` requests get these answers, one each (an HTML error page
        from a proxy, a JSON list, ...), then the real health again."""
        with self._lock:
            self._health_answers.extend(answers)

    def health(self) -> Response:
        with self._lock:
            if self._health_answers:
                return self._health_answers.pop(0)
        up = self.healthy()
        return Response.json({"status": "UP" if up else "DOWN"}, status=200 if up else 503)

    def __call__(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return Response.json({"error": "method not allowed"}, status=405)
        if req.path == "/metrics":
            return Response.text(self.metrics_text(), content_type=CONTENT_TYPE)
        if req.path == "/actuator/health":
            return self.health()
        return Response.json({"error": f"no route {req.path}"}, status=404)


def start_services(
    scenario: Scenario, cluster, clock: SimClock, ecs=None, swarm=None, alb=None
) -> dict[str, SandboxServer]:
    """Start one loopback server per scenario service, fed by the cluster's live pods of that service, or for a
    service on ECS by the running tasks of ``ecs`` (``bot.sandbox.ecs.EcsDeployments``; none: no task runs), on
    Swarm by those of ``swarm`` (``bot.sandbox.engine.world.SwarmEngine``), or
    behind an ALB by its target groups' weights (``bot.sandbox.aws_alb.AlbTraffic``)."""
    servers: dict[str, SandboxServer] = {}
    try:
        for spec in scenario.services:

            def routed(spec: ServiceSpec = spec) -> list[Route]:
                if spec.ecs:
                    return ecs.routes(spec.name) if ecs else [(100.0, [])]
                if spec.swarm:
                    return swarm.routes(spec.name) if swarm else [(100.0, [])]
                if spec.alb:
                    return alb.routes(spec.name) if alb else [(100.0, [])]
                return routes(cluster, spec)

            servers[spec.name] = SandboxServer(ServiceSimulator(spec, scenario, routed, clock)).start()
    except Exception:
        for server in servers.values():
            server.stop()
        raise
    return servers
