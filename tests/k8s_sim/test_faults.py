"""Faults on demand: the real kubectl and the python client see the simulator fail as a real API server fails."""

from __future__ import annotations

import json
import re
import time

import pytest
import urllib3
from kubernetes import client, watch

from bot.sandbox.harness import wait_for

NS, NAME, D = "shopping", "shopping-service", "deployment/shopping-service"
ACCOUNT = "system:serviceaccount:rollback-bot:rollback-bot"


@pytest.fixture
def apps(sim) -> client.AppsV1Api:
    config = client.Configuration()
    config.host = sim.url
    config.retries = False  # one request per call: what the server answered, not what urllib3 retried
    with client.ApiClient(config) as api:
        yield client.AppsV1Api(api)


def status_of(err: pytest.ExceptionInfo) -> dict:
    return json.loads(err.value.body)


@pytest.mark.kubectl
@pytest.mark.parametrize(
    ("status", "verb", "args", "stderr"),
    [
        (
            403,
            "list",
            ("get", "deploy"),
            f'Error from server (Forbidden): deployments.apps is forbidden: User "{ACCOUNT}" cannot list '
            'resource "deployments" in API group "apps" in the namespace "shopping"',
        ),
        (
            500,
            "get",
            ("get", "deploy", NAME),
            "Error from server (InternalError): Internal error occurred: etcdserver: request timed out",
        ),
        (
            503,
            "get",
            ("get", "deploy", NAME),
            "Error from server (ServiceUnavailable): the server is currently unable to handle the request",
        ),
        (
            404,
            "get",
            ("rollout", "history", D),
            'Error from server (NotFound): deployments.apps "shopping-service" not found',
        ),
        (
            409,
            "patch",
            ("rollout", "undo", D),
            'error: failed restoring revision 0: Operation cannot be fulfilled on deployments.apps "shopping-service": '
            "the object has been modified; please apply your changes to the latest version and try again",
        ),
    ],
)
def test_kubectl_reports_injected_errors_as_from_a_real_server(sim, status, verb, args, stderr):
    sim.cluster.faults.add(status, verb=verb, resource="deployments")
    result = sim.kubectl("-n", NS, *args)
    assert result.returncode == 1
    assert result.stderr.strip() == stderr
    sim.cluster.faults.clear()
    assert not re.search(r"^4\s", sim.ok("-n", NS, "rollout", "history", D), re.M)  # a refused undo changed nothing


@pytest.mark.kubectl
def test_kubectl_honours_retry_after_on_a_throttled_answer(sim):
    rule = sim.cluster.faults.add(429, verb="list", resource="deployments", times=1)
    assert "shopping-service   3/3" in sim.ok("-n", NS, "get", "deploy")
    assert rule.hits == 1


@pytest.mark.kubectl
def test_kubectl_gives_up_on_a_slow_server_at_its_request_timeout(sim):
    sim.cluster.faults.delay(5, verb="list", resource="deployments")
    result = sim.kubectl("-n", NS, "--request-timeout=1s", "get", "deploy")
    assert result.returncode == 1
    assert result.stderr.startswith("Unable to connect to the server: ")  # Go words the timeout two ways
    assert "context deadline exceeded" in result.stderr or "Client.Timeout exceeded" in result.stderr


def test_a_rule_hits_only_matching_requests_and_only_as_often_as_told(sim, apps):
    rule = sim.cluster.faults.add(403, verb="patch", resource="deployments", name=NAME, times=2)
    apps.read_namespaced_deployment(NAME, NS)  # another verb: untouched
    apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 3}})  # a subresource: untouched
    for _ in range(2):
        with pytest.raises(client.ApiException) as err:
            apps.patch_namespaced_deployment(NAME, NS, {"metadata": {"labels": {"x": "y"}}})
        assert err.value.status == 403
    assert status_of(err) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'deployments.apps "shopping-service" is forbidden: User "{ACCOUNT}" cannot patch resource '
        '"deployments" in API group "apps" in the namespace "shopping"',
        "reason": "Forbidden",
        "code": 403,
        "details": {"name": NAME, "kind": "deployments", "group": "apps"},
    }
    assert apps.patch_namespaced_deployment(NAME, NS, {"metadata": {"labels": {"x": "y"}}}).metadata.labels["x"]
    assert rule.hits == 2


def test_an_error_after_the_request_loses_the_answer_but_keeps_the_change(sim, apps):
    sim.cluster.faults.add(500, verb="patch", resource="deployments", after=True, times=1)
    with pytest.raises(client.ApiException) as err:
        apps.patch_namespaced_deployment(NAME, NS, {"metadata": {"labels": {"lost": "answer"}}})
    assert (err.value.status, status_of(err)["reason"]) == (500, "InternalError")
    assert apps.read_namespaced_deployment(NAME, NS).metadata.labels["lost"] == "answer"


def test_a_throttled_answer_says_when_to_come_back(sim, apps):
    sim.cluster.faults.add(429, verb="list", resource="replicasets")
    with pytest.raises(client.ApiException) as err:
        apps.list_namespaced_replica_set(NS)
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "1"
    assert status_of(err)["details"] == {"retryAfterSeconds": 1}


def test_removed_and_cleared_rules_stop_failing_requests(sim, apps):
    faults = sim.cluster.faults
    rule = faults.add(503, resource="deployments")
    never = faults.add(500, resource="replicasets", probability=0.0)
    with pytest.raises(client.ApiException):
        apps.read_namespaced_deployment(NAME, NS)
    faults.remove(rule)
    assert apps.read_namespaced_deployment(NAME, NS).metadata.name == NAME
    assert len(apps.list_namespaced_replica_set(NS).items) == 3 and never.hits == 0
    faults.add(503, resource="deployments")
    faults.clear()
    assert apps.read_namespaced_deployment(NAME, NS).metadata.name == NAME


def test_a_hung_watch_sends_nothing_and_the_client_times_out_while_lists_still_answer(sim, apps):
    rule = sim.cluster.faults.hang_watches(resource="deployments")
    assert apps.list_namespaced_deployment(NS).items[0].metadata.name == NAME
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        for _ in watch.Watch().stream(apps.list_namespaced_deployment, NS, timeout_seconds=1, _request_timeout=1.5):
            pass
    assert rule.hits == 1


def test_a_time_bounded_rule_fails_requests_only_for_its_seconds(sim, apps):
    started = time.monotonic()
    rule = sim.cluster.faults.add(500, resource="deployments", seconds=1.0)
    with pytest.raises(client.ApiException) as err:
        apps.read_namespaced_deployment(NAME, NS)
    assert (err.value.status, status_of(err)["reason"]) == (500, "InternalError")

    def answered() -> bool:
        try:
            return apps.read_namespaced_deployment(NAME, NS).metadata.name == NAME
        except client.ApiException:
            return False

    wait_for("the outage to end by itself", answered, timeout=10)
    assert time.monotonic() - started >= 1.0, "it failed requests for its whole second"
    hits = rule.hits
    assert apps.read_namespaced_deployment(NAME, NS).metadata.name == NAME and rule.hits == hits
