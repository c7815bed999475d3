"""The bot's own metrics, in Prometheus' text format (``GET /metrics``): what a platform engineer alerts on.

Each process counts what happens in it (Prometheus sums the replicas): the web process its declares and
decisions, its Slack calls and its listener queue; the worker its runs, mitigations, lease lag and the calls
the rollbacks make. ``rollback-bot serve`` without ``--no-worker`` holds both halves. Counters start at zero
with the process, as every Prometheus counter does (``rate()`` and ``increase()`` absorb the restarts).

The one module the rest of the bot imports to count: it imports nothing of the bot.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

# From a minute to a day: people decide in minutes, a mitigation may take hours.
_HUMAN_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)

INCIDENTS = Counter(
    "rollback_bot_incidents_declared",
    "Incidents declared, by severity after the first assessment and by who declared (slack_user or system).",
    ["severity", "declared_by"],
)
RUNS = Counter(
    "rollback_bot_rollback_runs",
    "Rollback runs that ended, by strategy and outcome (verified, verification_failed, could_not_verify, "
    "failed, cancelled, expired).",
    ["strategy", "outcome"],
)
TO_DECISION = Histogram(
    "rollback_bot_declare_to_decision_seconds",
    "From an incident's declaration to each decision on it (rollback confirmed, forward fix, dismissed).",
    ["decision"],
    buckets=_HUMAN_BUCKETS,
)
TO_MITIGATION = Histogram(
    "rollback_bot_declare_to_mitigation_seconds",
    "From an incident's declaration to its rollback verified (the incident mitigated).",
    buckets=_HUMAN_BUCKETS,
)
CALL_ERRORS = Counter(
    "rollback_bot_call_errors",
    "Failed calls to Slack, Kubernetes and Prometheus, by kind (Slack's error code, http_<status>, timeout, "
    "connect, tls, bad_answer, ...); one per failed attempt, retried or not.",
    ["system", "kind"],
)
LEASE_LAG = Gauge(
    "rollback_bot_worker_lease_lag_seconds",
    "Seconds since this worker last renewed its heartbeat or the lease of a run it holds (the oldest of them); "
    "at rollback_bot_worker_lease_seconds another worker takes its runs over.",
)
LEASE = Gauge("rollback_bot_worker_lease_seconds", "The lease of this worker's runs and heartbeat.")
QUEUE = Gauge(
    "rollback_bot_listener_queue_depth",
    "Listener jobs acknowledged to Slack and waiting for a thread of the listener pool (Runtime.submit).",
)


def exposition() -> tuple[bytes, str]:
    """The body and content type of ``GET /metrics``."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def incident_declared(severity: str | None, system: bool) -> None:
    INCIDENTS.labels(severity or "unknown", "system" if system else "slack_user").inc()


def run_ended(strategy: str, outcome: str) -> None:
    RUNS.labels(strategy, outcome).inc()


def _since(declared_at: dt.datetime) -> float:
    return max(0.0, (dt.datetime.now(dt.UTC) - declared_at).total_seconds())


def decided(declared_at: dt.datetime, decision: str) -> None:
    TO_DECISION.labels(decision).observe(_since(declared_at))


def mitigated(declared_at: dt.datetime) -> None:
    TO_MITIGATION.observe(_since(declared_at))


def call_failed(system: str, kind: str) -> None:
    CALL_ERRORS.labels(system, kind).inc()


class Renewals:
    """When this worker last renewed each thing it holds (its heartbeat, each run's lease): the lease lag."""

    def __init__(self, lease_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._renewed: dict[str, float] = {}
        self._lock = threading.Lock()
        LEASE.set(lease_seconds)
        LEASE_LAG.set_function(self.lag)

    def renewed(self, what: str) -> None:
        with self._lock:
            self._renewed[what] = self._clock()

    def released(self, what: str) -> None:
        with self._lock:
            self._renewed.pop(what, None)

    def lag(self) -> float:
        with self._lock:
            oldest = min(self._renewed.values(), default=None)
        return 0.0 if oldest is None else self._clock() - oldest
