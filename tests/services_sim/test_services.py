"""The service simulator over real HTTP: what Prometheus and the health check would see."""

from __future__ import annotations

import dataclasses
import time

import pytest
import requests

from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s import Cluster
from bot.sandbox.services import MEMORY_LIMIT_BYTES, ServiceSimulator, start_services
from tests.services_sim.conftest import BAD, CRASHLOOP, GOOD, make_pod

parser = pytest.importorskip("prometheus_client.parser")

FAST_RPS = 200_000  # requests per second: shares between two scrapes come out exact to a few per mille
MIN_REQUESTS = 20_000  # served between the two scrapes a share is computed from


@pytest.fixture
def serve(scenario, clock, pods):
    """Start a simulator for shopping-service (optionally at another request rate); stopped afterwards."""
    servers: list[SandboxServer] = []

    def start(rps: float | None = None) -> str:
        spec = scenario.service("shopping-service")
        if rps is not None:
            spec = dataclasses.replace(spec, requests_per_second=rps)
        server = SandboxServer(ServiceSimulator(spec, scenario, lambda: [(100.0, pods())], clock)).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def scrape(url: str) -> dict[str, list]:
    """Metric families by name, parsed the way a Prometheus client library parses them."""
    resp = requests.get(f"{url}/metrics", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in parser.text_string_to_metric_families(resp.text)}


def requests_by_code(families) -> dict[str, float]:
    return {s.labels["code"]: s.value for s in families["http_requests"].samples if s.name.endswith("_total")}


def share_5xx(before: dict[str, float], after: dict[str, float]) -> float:
    delta = {code: after[code] - before[code] for code in after}
    return (delta["500"] + delta["503"]) / sum(delta.values())


def wait_for_traffic(url: str, previous: dict[str, float]) -> dict[str, float]:
    """Scrape until some requests were served since ``previous`` (bounded)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        current = requests_by_code(scrape(url))
        if sum(current.values()) > sum(previous.values()) + MIN_REQUESTS:
            return current
        time.sleep(0.02)
    raise AssertionError("no traffic was served within 5 s")


def test_metrics_parse_with_types_help_and_service_labels(serve):
    families = scrape(serve())
    assert {name: f.type for name, f in families.items()} == {
        "http_requests": "counter",
        "http_request_duration_seconds": "histogram",
        "container_memory_working_set_bytes": "gauge",
        "container_spec_memory_limit_bytes": "gauge",
        "kube_pod_container_status_restarts": "counter",
    }
    assert all(f.documentation for f in families.values())
    for family in families.values():
        for sample in family.samples:
            assert sample.labels["service"] == "shopping-service"
            assert sample.labels["namespace"] == "shopping"
    assert set(requests_by_code(families)) == {"200", "404", "500", "503"}
    buckets = [s.labels["le"] for s in families["http_request_duration_seconds"].samples if "le" in s.labels]
    assert buckets == ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


def test_counters_only_increase_even_when_every_pod_goes_away(serve, pods):
    url = serve(FAST_RPS)
    first = wait_for_traffic(url, dict.fromkeys(("200", "404", "500", "503"), 0))
    pods.pods = []
    second = wait_for_traffic(url, first)
    assert all(second[code] >= first[code] for code in first)
    assert second["503"] > first["503"] + MIN_REQUESTS
    assert second["200"] == first["200"]  # nobody answers 200 without a ready pod


def test_error_share_follows_the_live_image(serve, pods):
    url = serve(FAST_RPS)
    start = requests_by_code(scrape(url))
    bad = wait_for_traffic(url, start)
    assert share_5xx(start, bad) == pytest.approx(0.30, abs=0.01)
    pods.set_image(GOOD)
    before = requests_by_code(scrape(url))
    good = wait_for_traffic(url, before)
    assert share_5xx(before, good) == pytest.approx(0.006, abs=0.002)
    not_found = (good["404"] - before["404"]) / sum(good[c] - before[c] for c in good)
    assert not_found == pytest.approx(0.01, abs=0.002)


def test_traffic_is_shared_among_ready_pods_only(serve, pods):
    pods.pods = [make_pod("good-0", GOOD), make_pod("bad-0", BAD), make_pod("new-0", BAD, ready=False)]
    url = serve(FAST_RPS)
    start = requests_by_code(scrape(url))
    mixed = wait_for_traffic(url, start)
    assert share_5xx(start, mixed) == pytest.approx((0.006 + 0.30) / 2, abs=0.01)


def p95_from_histogram(url: str) -> float:
    """histogram_quantile(0.95, ...) with Prometheus's linear interpolation inside the bucket."""
    samples = scrape(url)["http_request_duration_seconds"].samples
    buckets = [(float(s.labels["le"]), s.value) for s in samples if s.name.endswith("_bucket")]
    rank = 0.95 * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, cumulative in buckets:
        if cumulative >= rank:
            return lower + (le - lower) * (rank - below) / (cumulative - below)
        lower, below = le, cumulative
    raise AssertionError("empty histogram")


def test_latency_histogram_p95_matches_the_image(serve, pods, scenario):
    bad_url = serve(FAST_RPS)
    wait_for_traffic(bad_url, dict.fromkeys(("200", "404", "500", "503"), 0))
    assert p95_from_histogram(bad_url) == pytest.approx(scenario.behaviour(BAD).p95_seconds, rel=0.15)
    pods.set_image(GOOD)
    good_url = serve(FAST_RPS)
    wait_for_traffic(good_url, dict.fromkeys(("200", "404", "500", "503"), 0))
    assert p95_from_histogram(good_url) == pytest.approx(scenario.behaviour(GOOD).p95_seconds, rel=0.25)


def test_memory_and_restarts_follow_the_pods(serve, pods, scenario):
    pods.pods = [make_pod("a", BAD, restarts=2), make_pod("b", GOOD), make_pod("c", CRASHLOOP, False, 7)]
    families = scrape(serve())
    expected_ratio = sum(scenario.behaviour(i).memory_ratio for i in (BAD, GOOD, CRASHLOOP)) / 3
    working_set = families["container_memory_working_set_bytes"].samples[0].value
    limit = families["container_spec_memory_limit_bytes"].samples[0].value
    assert limit == MEMORY_LIMIT_BYTES == 512 * 1024 * 1024
    assert working_set / limit == pytest.approx(expected_ratio, abs=0.001)
    restarts = {s.labels["pod"]: s.value for s in families["kube_pod_container_status_restarts"].samples}
    assert restarts == {"a": 2, "b": 0, "c": 7}


@pytest.mark.parametrize(
    ("live", "status", "body"),
    [
        ([make_pod("p", GOOD)], 200, "UP"),
        ([make_pod("p", BAD)], 200, "UP"),  # 30% errors: degraded but answering
        ([make_pod("p", GOOD, ready=False)], 503, "DOWN"),  # nothing ready
        ([], 503, "DOWN"),
        ([make_pod("p", CRASHLOOP)], 503, "DOWN"),  # ready but failing every request
        ([make_pod("p", CRASHLOOP), make_pod("q", GOOD), make_pod("r", GOOD)], 200, "UP"),
    ],
)
def test_health_reflects_ready_pods(serve, pods, live, status, body):
    pods.pods = live
    resp = requests.get(f"{serve()}/actuator/health", timeout=5)
    assert (resp.status_code, resp.json()) == (status, {"status": body})


def test_unknown_path_is_404(serve):
    assert requests.get(f"{serve()}/nope", timeout=5).status_code == 404


def test_start_services_serves_every_scenario_service_from_the_cluster(scenario, clock):
    cluster = Cluster(scenario, clock)
    servers = start_services(scenario, cluster, clock)
    try:
        assert set(servers) == {s.name for s in scenario.services}
        url = servers["shopping-service"].url
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/actuator/health", timeout=5).json() == {"status": "UP"}
        live = {p["metadata"]["name"] for p in cluster.list("pods", "shopping", {"app": "shopping-service"})}
        restarts = scrape(url)["kube_pod_container_status_restarts"].samples
        assert {s.labels["pod"] for s in restarts} == live and len(live) == 3
    finally:
        for server in servers.values():
            server.stop()
