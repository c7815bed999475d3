"""The analysis loop: when it checks, which traffic each check reads, and what it does without Prometheus.

Time is a fake clock (the loop takes ``clock`` and ``sleep``); Prometheus is a small stand-in
server answering the real HTTP API, so the bot's real client sends the queries.
"""

from __future__ import annotations

import re

import pytest

from bot.config import Analysis, ServiceConfig
from bot.sandbox.httpserver import Request, Response, SandboxServer
from bot.signals.analysis import Outcome
from bot.signals.metrics import MetricsReader
from bot.signals.verification import health_check, verify
from bot.strategies.base import Check, RollbackError, Verification

SERVICE = ServiceConfig(name="shopping-service", namespace="shopping")


class Cluster:
    """The strategy's own checks after the rollout: all pods ready."""

    def verify(self, plan) -> Verification:
        return Verification((Check("pods", True, "3/3 ready"),))


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def prometheus():
    """Answers every query with a healthy value; records the range of each query."""
    seen: list[str] = []

    def app(req: Request) -> Response:
        query = req.arg("query") or ""
        seen.append(re.search(r"\[(\w+)\]", query).group(1))
        value = "0.21" if "duration" in query else "0.006"
        result = [{"metric": {}, "value": [0, value]}]
        return Response.json({"status": "success", "data": {"resultType": "vector", "result": result}})

    with SandboxServer(app) as server:
        server.seen = seen
        yield server


def test_each_check_reads_only_the_traffic_since_the_rollout(prometheus):
    time, lines = FakeTime(), []
    start = time.now
    result = verify(
        Cluster(), None, SERVICE, MetricsReader(prometheus.url), 15, lines.append, time.clock, time.sleep
    )
    assert result.outcome is Outcome.VERIFIED
    # Every 15 s from the rollout: at 15 s two 15 s scrapes cannot have happened yet (waiting, no
    # query), then each range is exactly the time since the rollout, never the catalog's 5m window.
    assert prometheus.seen == ["30s", "30s", "45s", "45s", "60s", "60s", "75s", "75s"]
    assert time.now - start == 75
    assert lines[0] == "check 1/5: 5xx waiting for data · p95 waiting for data"
    assert lines[-1] == "check 4/5: 5xx 0.6% ✓ · p95 0.21 s ✓"


def test_the_catalogs_interval_and_bake_set_the_schedule(prometheus):
    time = FakeTime()
    start = time.now
    quick = ServiceConfig(name="shopping-service", namespace="shopping", analysis=Analysis(interval="2s", bake="6s"))
    result = verify(Cluster(), None, quick, MetricsReader(prometheus.url), 1, clock=time.clock, sleep=time.sleep)
    assert result.outcome is Outcome.VERIFIED and result.checks == 3
    assert prometheus.seen == ["2s", "2s", "4s", "4s", "6s", "6s"]
    assert time.now - start == 6


def test_without_prometheus_it_says_so_at_once_and_never_reports_healthy():
    time = FakeTime()
    start = time.now
    result = verify(Cluster(), None, SERVICE, MetricsReader(None), 15, clock=time.clock, sleep=time.sleep)
    assert result.outcome is Outcome.COULD_NOT_VERIFY
    assert result.reason == "Prometheus is not configured (PROMETHEUS_URL is not set)"
    assert time.now == start, "no bake to wait for"
    metrics = [c for c in result.verification.checks if c.name in ("5xx rate", "p95 latency")]
    assert [c.ok for c in metrics] == [None, None]
    assert "PROMETHEUS_URL is not set" in metrics[0].detail


class FlakyCluster:
    """The strategy's checks while the API server fails for good on the given calls (after its retries)."""

    def __init__(self, failing: set[int]) -> None:
        self.failing, self.calls = failing, 0

    def verify(self, plan) -> Verification:
        self.calls += 1
        if self.calls in self.failing:
            raise RollbackError("the Kubernetes API server is failing (500 InternalError) when it tried to list pods")
        return Cluster().verify(plan)


def test_a_cluster_read_that_fails_for_good_fails_one_check_not_the_verification(prometheus):
    time, lines = FakeTime(), []
    result = verify(
        FlakyCluster({3}), None, SERVICE, MetricsReader(prometheus.url), 15, lines.append, time.clock, time.sleep
    )
    assert result.outcome is Outcome.VERIFIED and result.checks == 7  # the bake started again after check 3
    assert lines[2] == "check 3/7: cluster unreadable · 5xx 0.6% ✓ · p95 0.21 s ✓ · 1 failed (verification stops at 2)"


def test_an_api_outage_over_the_failure_limit_cannot_verify_and_says_why(prometheus):
    time = FakeTime()
    metrics = MetricsReader(prometheus.url)
    result = verify(FlakyCluster({3, 4}), None, SERVICE, metrics, 15, clock=time.clock, sleep=time.sleep)
    assert result.outcome is Outcome.COULD_NOT_VERIFY
    why = "2 of 4 checks failed (limit 2), 2 of them because the cluster could not be read: "
    assert result.reason.startswith(why)
    assert "500 InternalError" in result.reason


@pytest.fixture
def health():
    """A health URL that answers what the test puts in ``server.answer``."""

    def app(req: Request) -> Response:
        return server.answer

    server = SandboxServer(app)
    with server:
        yield server


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (Response.json({"status": "UP"}), "says UP (HTTP 200)"),
        (Response.json({"status": "DOWN"}, status=503), "says DOWN (HTTP 503)"),
        (Response.json({"healthy": True}), "says ? (HTTP 200)"),
        (Response.text("<html>Bad Gateway</html>", 502, "text/html"), "answered HTML (HTTP 502), not a JSON object"),
        (Response.text("  <!doctype html>", 200, "text/plain"), "answered HTML (HTTP 200), not a JSON object"),
        (Response.json(["UP"]), "answered a JSON list (HTTP 200), not an object"),
        (Response.json("UP"), "answered a JSON string (HTTP 200), not an object"),
        (Response.json(None), "answered a JSON null (HTTP 200), not an object"),
        (Response.text('{"status"', 200, "application/json"), "answered invalid JSON (HTTP 200), not a JSON object"),
        (Response.text("OK"), "answered text/plain (HTTP 200), not a JSON object"),
        (Response.text(""), "answered an empty body (HTTP 200), not a JSON object"),
    ],
    ids=["up", "down", "no-status", "html-502", "html-sniffed", "list", "string", "null", "invalid", "text", "empty"],
)
def test_the_health_url_passes_only_on_a_json_object_saying_up(health, answer, detail):
    health.answer = answer
    check = health_check(f"{health.url}/actuator/health")
    assert check.detail == f"{health.url}/actuator/health {detail}"
    assert check.ok is (detail == "says UP (HTTP 200)")
