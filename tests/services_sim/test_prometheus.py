"""Real Prometheus scraping the service simulator: the bot's view of a bad release and its rollback."""

from __future__ import annotations

import socket
import time

import kubernetes
import pytest
import requests
from prometheus_api_client import PrometheusConnect

from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import Response, SandboxServer, free_port
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.prometheus import PrometheusError, PrometheusProcess
from bot.sandbox.services import start_services
from tests.services_sim.conftest import GOOD
from tests.support import need_binary

pytestmark = pytest.mark.prometheus

SHARE_5XX = (
    'sum(rate(http_requests_total{service="shopping-service",code=~"5.."}[5s]))'
    ' / sum(rate(http_requests_total{service="shopping-service"}[5s]))'
)


@pytest.fixture
def world(scenario, tmp_path):
    """Cluster (v1.2.5 live) + its API + the service simulators + Prometheus scraping them every second."""
    binary = need_binary("prometheus")
    clock = SimClock(scale=10)  # pods of a new ReplicaSet get ready in a fraction of a real second
    cluster = Cluster(scenario, clock).start()
    api = SandboxServer(make_api(cluster)).start()
    services = start_services(scenario, cluster, clock)
    targets = {name: f"127.0.0.1:{server.port}" for name, server in services.items()}
    try:
        with PrometheusProcess(targets, binary=binary) as prom:
            kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url, namespace="shopping")
            yield prom, kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    finally:
        for server in [*services.values(), api]:
            server.stop()
        cluster.stop()


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


def test_5xx_rate_of_the_bad_release_drops_after_going_back_to_a_good_image(world):
    prometheus, k8s_client = world
    prom = PrometheusConnect(url=prometheus.url, disable_ssl=True)
    series = prom.custom_query('http_requests_total{service="shopping-service",code="503"}')
    assert series and series[0]["metric"]["namespace"] == "shopping"
    assert "exported_service" not in series[0]["metric"]  # the simulator's own labels are kept as they are

    bad = poll(prom, SHARE_5XX, lambda v: v == v)  # first non-NaN value: two scrapes in the window
    assert bad == pytest.approx(0.30, abs=0.05)

    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": GOOD}]}}}}
    kubernetes.client.AppsV1Api(k8s_client).patch_namespaced_deployment("shopping-service", "shopping", patch)
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


def test_a_picked_port_taken_before_prometheus_binds_it_is_picked_again():
    """Parallel test workers bind ports too: the one Prometheus was given may be gone by the time it starts."""
    binary = need_binary("prometheus")
    server = SandboxServer(lambda request: Response(200, b"up 1\n")).start()
    prom = PrometheusProcess({"svc": f"127.0.0.1:{server.port}"}, binary=binary)
    taken = prom.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with prom:
            assert prom.port != taken and requests.get(f"{prom.url}/-/ready", timeout=2).ok
    server.stop()


def share_5xx(service: str, window: str = "4s") -> str:
    return (
        f'sum(rate(http_requests_total{{service="{service}",code=~"5.."}}[{window}]))'
        f' / sum(rate(http_requests_total{{service="{service}"}}[{window}]))'
    )


def test_the_5xx_rate_falls_with_each_canary_step(world):
    """checkout-canary (50% 5xx) takes 80% of the traffic by the VirtualService's weights; as its weight is stepped
    down, Prometheus sees the share of 5xx fall step by step to the stable release's 0.5%."""
    prometheus, k8s_client = world
    prom = PrometheusConnect(url=prometheus.url, disable_ssl=True)
    vs_api = kubernetes.client.CustomObjectsApi(k8s_client)
    where = ("networking.istio.io", "v1", "checkout", "virtualservices", "checkout")

    def expected(weight: int) -> float:
        return weight / 100 * 0.5 + (1 - weight / 100) * 0.005

    seen = [poll(prom, share_5xx("checkout"), lambda v: abs(v - expected(80)) < 0.04)]
    for weight in (50, 25, 0):
        vs = vs_api.get_namespaced_custom_object(*where)
        route = vs["spec"]["http"][0]["route"]
        route[0]["weight"], route[1]["weight"] = 100 - weight, weight
        vs_api.patch_namespaced_custom_object(*where, {"spec": {"http": vs["spec"]["http"]}})
        # within 4 points of the step's share; at 0 %, wait until the window holds no canary traffic
        near = 0.04 if weight else 0.01
        seen.append(poll(prom, share_5xx("checkout"), lambda v, w=weight, n=near: abs(v - expected(w)) < n))
    assert seen == sorted(seen, reverse=True) and seen[-1] < 0.02, seen
