"""After a rollback: is the service really back? Cluster checks, health URL, 5xx rate and p95.

A signal that cannot be read is reported as unavailable (``ok=None``), never as
healthy; a check that keeps failing until the time runs out fails verification.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from bot.config import ServiceConfig
from bot.signals.metrics import MetricsReader
from bot.strategies.base import Check, Plan, Strategy, Verification


def health_check(url: str | None, timeout: float = 3.0) -> Check:
    if not url:
        return Check("health URL", None, "no health URL in the services catalog")
    try:
        response = requests.get(url, timeout=timeout)
        status = (response.json() or {}).get("status", "?") if response.content else "?"
    except (requests.RequestException, ValueError) as exc:
        return Check("health URL", False, f"{url} did not answer ({type(exc).__name__})")
    return Check("health URL", status == "UP", f"{url} says {status} (HTTP {response.status_code})")


def metric_checks(metrics: MetricsReader, service: ServiceConfig) -> list[Check]:
    t = service.thresholds
    checks = []
    for signal, label, limit, unit in (
        ("http_5xx_rate", "5xx rate", t.error_rate, "%"),
        ("latency_p95", "p95 latency", t.latency_p95, "s"),
    ):
        value = metrics.read_one(service, signal)
        if value is None:
            checks.append(Check(label, None, "unavailable from Prometheus"))
            continue
        shown = (f"{value:.1%}", f"{limit:.0%}") if unit == "%" else (f"{value:.2f} s", f"{limit:g} s")
        checks.append(Check(label, value <= limit, f"{shown[0]} (threshold {shown[1]})"))
    return checks


def verify(
    strategy: Strategy,
    plan: Plan,
    service: ServiceConfig,
    metrics: MetricsReader,
    timeout: float,
    interval: float = 2.0,
    progress: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verification:
    """Repeat every check until all pass or ``timeout`` seconds pass; returns the last round."""
    deadline = clock() + timeout
    while True:
        checks = (
            *strategy.verify(plan).checks,
            health_check(service.health_url),
            *metric_checks(metrics, service),
        )
        result = Verification(checks)
        failing = [c for c in checks if c.ok is False]
        if not failing or clock() >= deadline:
            return result
        progress("waiting for " + ", ".join(f"{c.name} ({c.detail})" for c in failing))
        sleep(interval)
