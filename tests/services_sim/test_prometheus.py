"""Real Prometheus scraping the service simulator: the bot's view of a bad release and its rollback."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_api_client import PrometheusConnect

from bot.sandbox.httpserver import SandboxServer, free_port
from bot.sandbox.prometheus import PrometheusError, PrometheusProcess
from bot.sandbox.services import ServiceSimulator
from tests.services_sim.conftest import GOOD
from tests.support import need_binary

pytestmark = pytest.mark.prometheus

SHARE_5XX = (
    'sum(rate(http_requests_total{service="shopping-service",code=~"5.."}[5s]))'
    ' / sum(rate(http_requests_total{service="shopping-service"}[5s]))'
)


@pytest.fixture
def prometheus(scenario, clock, pods):
    """Prometheus scraping shopping-service's simulator every second; the live pods run v1.2.5."""
    binary = need_binary("prometheus")
    simulator = ServiceSimulator(scenario.service("shopping-service"), scenario, pods, clock)
    service = SandboxServer(simulator).start()
    try:
        with PrometheusProcess({"shopping-service": f"127.0.0.1:{service.port}"}, binary=binary) as prom:
            yield prom
    finally:
        service.stop()


def poll(prom: PrometheusConnect, query: str, done, timeout: float = 20.0) -> float:
    """Evaluate ``query`` until ``done(value)``; the last value is returned for the assertion message."""
    deadline = time.monotonic() + timeout
    value = float("nan")
    while time.monotonic() < deadline:
        result = prom.custom_query(query)
        if result:
            value = float(result[0]["value"][1])
            if done(value):
                return value
        time.sleep(0.25)
    raise AssertionError(f"{query} never satisfied the condition within {timeout:g} s; last value {value}")


def test_5xx_rate_of_the_bad_release_drops_after_going_back_to_a_good_image(prometheus, pods):
    prom = PrometheusConnect(url=prometheus.url, disable_ssl=True)
    series = prom.custom_query('http_requests_total{service="shopping-service",code="503"}')
    assert series and series[0]["metric"]["namespace"] == "shopping"
    assert "exported_service" not in series[0]["metric"]  # the simulator's own labels are kept as they are

    bad = poll(prom, SHARE_5XX, lambda v: v == v)  # first non-NaN value: two scrapes in the window
    assert bad == pytest.approx(0.30, abs=0.05)

    # TODO(k8s): once bot/sandbox/k8s lands, run the pods from Cluster and change the image with the
    # `kubernetes` client (strategic-merge patch of the Deployment's container image) instead.
    pods.set_image(GOOD)
    after = poll(prom, SHARE_5XX, lambda v: v < 0.05)
    assert after < 0.05


def test_start_fails_clearly_when_a_target_cannot_be_scraped():
    binary = need_binary("prometheus")
    dead = f"127.0.0.1:{free_port()}"  # nothing listens here
    prom = PrometheusProcess({"ghost-service": dead}, binary=binary, start_timeout=3)
    with pytest.raises(PrometheusError, match="did not scrape all of \\['ghost-service'\\]"):
        prom.start()
    with pytest.raises(requests.ConnectionError):  # the process was stopped, not left running
        requests.get(f"{prom.url}/-/ready", timeout=2)
