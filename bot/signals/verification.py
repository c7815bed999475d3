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
from bot.strategies.base import Check, Plan, RollbackError, Strategy


def health_check(url: str | None, timeout: float = 3.0) -> Check:
    """UP only when the URL answers a JSON object whose ``status`` is UP; anything else fails, saying what came."""
    if not url:
        return Check("health URL", None, "no health URL in the services catalog")
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return Check("health URL", False, f"{url} did not answer ({type(exc).__name__})")
    http = f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return Check("health URL", False, f"{url} answered {_not_json(response)} ({http}), not a JSON object")
    if not isinstance(body, dict):
        return Check("health URL", False, f"{url} answered a JSON {_JSON_KINDS[type(body)]} ({http}), not an object")
    status = body.get("status", "?")
    return Check("health URL", status == "UP", f"{url} says {status} ({http})")


_JSON_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _not_json(response: requests.Response) -> str:
    """What a health URL sent instead of JSON, in a word or two (a proxy's HTML error page is the usual one)."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not response.content.strip():
        return "an empty body"
    if kind == "text/html" or response.content.lstrip()[:1] == b"<":
        return "HTML"
    if kind.endswith("json"):
        return "invalid JSON"
    return kind or "a body without a Content-Type"


def cluster_checks(strategy: Strategy, plan: Plan) -> tuple[tuple[Check, ...], str]:
    """The strategy's own checks, or none and why: a read that failed for good fails this check, not the run."""
    try:
        return strategy.verify(plan).checks, ""
    except RollbackError as exc:
        return (), str(exc)


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
    configured = metrics.configured(service)

    def check() -> CheckResult:
        since = window(clock() - completed, scrape_interval)  # None: too early, nothing to read yet
        read = since is not None or not configured  # unconfigured: read_one says so
        readings = {m.signal: metrics.read_one(service, m.signal, since) for m in METRICS} if read else {}
        cluster, unread = cluster_checks(strategy, plan)
        items = (*cluster, health_check(service.health_url))
        return judge(items, readings, service.thresholds, unread, source=metrics.source(service))

    if not configured:
        return unconfigured(check())
    bake = Bake(service.analysis, source=metrics.source(service))
    interval = service.analysis.interval_seconds
    while True:
        sleep(max(0.0, completed + (bake.done + 1) * interval - clock()))  # on a fixed schedule: no drift
        if bake.feed(check()) is not None:
            return bake.result()
        progress(bake.progress())
