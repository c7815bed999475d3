"""Reading a service's signals from Prometheus: real values from the real server, and never a crash
whenever Prometheus cannot answer; a single read tells "no data" apart from "could not ask"."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_api_client import PrometheusConnect

from bot.config import SIGNALS, ServiceConfig
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import Request, Response, SandboxServer, free_port
from bot.sandbox.prometheus import PrometheusProcess
from bot.sandbox.scenario import load_scenario
from bot.sandbox.services import ServiceSimulator
from bot.signals.metrics import MetricsReader, Reading
from bot.signals.severity import Severity, assess, format_value
from tests.services_sim.conftest import BAD, Pods
from tests.support import need_binary

SHOPPING = ServiceConfig(name="shopping-service", namespace="shopping", window="10s")
NOTHING = dict.fromkeys(SIGNALS)


# ------------------------------------------------------------- Prometheus cannot answer


def test_without_a_prometheus_url_every_signal_is_unavailable():
    reader = MetricsReader(None)
    assert reader.read(SHOPPING) == NOTHING
    assert reader.read_one(SHOPPING, "error_rate") == Reading(error="PROMETHEUS_URL is not set")


def test_a_closed_port_gives_unavailable_signals():
    reader = MetricsReader(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    assert reader.read(SHOPPING) == NOTHING
    down = reader.read_one(SHOPPING, "http_5xx_rate", "30s")
    assert down.value is None and down.error == f"cannot connect to {reader.url}" and not down.no_data


def test_a_prometheus_that_does_not_answer_in_time_gives_unavailable_signals():
    release = threading.Event()

    def stuck(req: Request) -> Response:
        release.wait(10)
        return Response.json({"status": "success", "data": {"resultType": "vector", "result": []}})

    with SandboxServer(stuck) as server:
        try:
            reader = MetricsReader(server.url, timeout=0.2)
            assert reader.read(SHOPPING) == NOTHING
            late = reader.read_one(SHOPPING, "latency_p95")
            assert late == Reading(error=f"{server.url} did not answer within 0.2 s")
        finally:
            release.set()


def test_an_unknown_signal_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown signal 'latency'"):
        MetricsReader(None).read_one(SHOPPING, "latency")


# ------------------------------------------------------------------- real Prometheus


@pytest.fixture(scope="module")
def prometheus():
    """Real Prometheus scraping shopping-service's simulator; its three pods run the failing v1.2.5.

    Yields once the 10 s query window holds enough scrapes that the counters' whole-request
    steps no longer skew the rates.
    """
    binary = need_binary("prometheus")
    scenario = load_scenario()
    pods = Pods()
    pods.set_image(BAD)
    simulator = ServiceSimulator(scenario.service("shopping-service"), scenario, lambda: [(100.0, pods())], SimClock())
    with SandboxServer(simulator) as service:
        with PrometheusProcess({"shopping-service": f"127.0.0.1:{service.port}"}, binary=binary) as prom:
            client = PrometheusConnect(prom.url)
            query = 'count_over_time(http_requests_total{service="shopping-service",code="500"}[10s])'
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                result = client.custom_query(query)
                if result and float(result[0]["value"][1]) >= 8:
                    break
                time.sleep(0.5)
            yield prom


@pytest.mark.prometheus
def test_the_failing_release_reads_as_high_severity(prometheus):
    reader = MetricsReader(prometheus.url)
    values = reader.read(SHOPPING)
    assert values["http_5xx_rate"] == pytest.approx(0.30, abs=0.05)
    assert values["error_rate"] == pytest.approx(0.307, abs=0.05)  # plus 1% 404s of the rest
    assert values["success_rate"] == pytest.approx(0.70, abs=0.05)
    assert values["latency_p95"] > 1.0
    assert values["memory"] == pytest.approx(0.93, abs=0.01)
    assert values["restarts"] == 0
    assessment = assess(values, SHOPPING.thresholds)
    assert assessment.severity is Severity.HIGH
    shown = format_value(assessment.signals[1])
    assert assessment.reasons[0] == f"5xx rate {shown} is above 25% (main API failing)"
    assert reader.read_one(SHOPPING, "memory").value == pytest.approx(0.93, abs=0.01)


@pytest.mark.prometheus
def test_a_single_read_over_a_given_window(prometheus):
    reader = MetricsReader(prometheus.url)
    assert reader.read_one(SHOPPING, "http_5xx_rate", "5s").value == pytest.approx(0.30, abs=0.05)


@pytest.mark.prometheus
def test_a_service_prometheus_knows_nothing_about_is_unavailable(prometheus):
    ghost = ServiceConfig(name="ghost-service", namespace="shopping")
    assert MetricsReader(prometheus.url).read(ghost) == NOTHING
    assert MetricsReader(prometheus.url).read_one(ghost, "http_5xx_rate") == Reading()  # no data, no error


@pytest.mark.prometheus
def test_a_broken_override_query_only_loses_its_own_signal(prometheus):
    broken = ServiceConfig(
        name="shopping-service", namespace="shopping", window="10s", queries={"latency_p95": "sum(oops"}
    )
    values = MetricsReader(prometheus.url).read(broken)
    assert values["latency_p95"] is None
    assert values["memory"] == pytest.approx(0.93, abs=0.01)
    assert "bad_data" in MetricsReader(prometheus.url).read_one(broken, "latency_p95").error


@pytest.mark.prometheus
def test_a_hostile_service_name_cannot_widen_the_query(prometheus):
    # Unescaped, this name would select `service="shopping-service",service!=""` and read the real 30%.
    hostile = ServiceConfig(name='shopping-service",service!="', namespace="shopping", window="10s")
    reader = MetricsReader(prometheus.url)
    assert reader.read(SHOPPING)["http_5xx_rate"] is not None  # the real service has data
    assert reader.read(hostile) == NOTHING
