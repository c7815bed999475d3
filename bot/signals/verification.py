"""After a rollback: is the service really back? The analysis loop: read, judge, sleep.

Each check reads the cluster (pods, endpoints), the health URL and, from Prometheus,
the 5xx rate and p95 over the traffic served since the rollout completed; the rules
that turn checks into an outcome are ``bot.signals.analysis``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from bot.config import ServiceConfig
from bot.signals.analysis import METRICS, Bake, CheckResult, Result, judge, unconfigured, window
from bot.signals.metrics import MetricsReader
from bot.strategies.base import Check, Plan, Strategy


def health_check(url: str | None, timeout: float = 3.0) -> Check:
    if not url:
        return Check("health URL", None, "no health URL in the services catalog")
    try:
        response = requests.get(url, timeout=timeout)
        status = (response.json() or {}).get("status", "?") if response.content else "?"
    except (requests.RequestException, ValueError) as exc:
        return Check("health URL", False, f"{url} did not answer ({type(exc).__name__})")
    return Check("health URL", status == "UP", f"{url} says {status} (HTTP {response.status_code})")


def verify(
    strategy: Strategy,
    plan: Plan,
    service: ServiceConfig,
    metrics: MetricsReader,
    scrape_interval: float,
    progress: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    """Run the analysis from now (the rollout just completed) until it has an outcome."""
    completed = clock()

    def check() -> CheckResult:
        since = window(clock() - completed, scrape_interval)  # None: too early, nothing to read yet
        read = since is not None or not metrics.url  # unconfigured: read_one says so
        readings = {m.signal: metrics.read_one(service, m.signal, since) for m in METRICS} if read else {}
        return judge((*strategy.verify(plan).checks, health_check(service.health_url)), readings, service.thresholds)

    if not metrics.url:
        return unconfigured(check())
    bake = Bake(service.analysis)
    interval = service.analysis.interval_seconds
    while True:
        sleep(max(0.0, completed + (bake.done + 1) * interval - clock()))  # on a fixed schedule: no drift
        if bake.feed(check()) is not None:
            return bake.result()
        progress(bake.progress())
