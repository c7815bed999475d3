"""Every Kubernetes call of the strategy, failing for real: the simulator answers 403, 404, 409, 500, too late,
or hangs its watches; the user reads what happened, whether anything changed, and what to do."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from kubernetes import client
from prometheus_client import REGISTRY

from bot.providers.kubernetes.deployment.strategy import KubernetesUndo
from bot.sandbox.httpserver import free_port
from bot.strategies.base import ConcurrentChange, Progress, RollbackError

TIMEOUT = 0.5  # real seconds per request for these tests
SLOW = 3.0  # real seconds a slow answer takes: beyond TIMEOUT, and beyond the 2 s wait deadline below
WAIT_DEADLINE = 40.0  # simulated seconds (2 real seconds at the default scale)
ACCOUNT = "system:serviceaccount:rollback-bot:rollback-bot"
NOTHING = "nothing was changed"
REREAD = "nothing was changed (the bot read the deployment again to make sure)"
WAIT = "the rollback itself was sent and is not undone by this"
VERIFY = "this check of the bake could not see the cluster (the rollback itself is not undone)"
IMAGE = "registry.local/shopping-service:"


@pytest.fixture
def sim(make_sim):
    return make_sim(request_timeout=TIMEOUT)


def fault(sim, kind: str | int, verb: str | None, resource: str):
    """Make every matching request fail: an HTTP status, or ``"slow"`` (answered after SLOW seconds)."""
    if kind == "slow":
        return sim.faults.delay(SLOW, verb=verb, resource=resource)
    return sim.faults.add(kind, verb=verb, resource=resource)


def run_path(sim, path: str, arm: Callable[[], object]) -> object:
    """Take ``path`` with the fault armed at the last moment (planning first where the path needs a plan)."""
    plan = sim.strategy.plan(sim.target) if path in ("apply", "verify") else None
    arm()
    return {
        "history": lambda: sim.strategy.history(sim.target),
        "plan": lambda: sim.strategy.plan(sim.target),
        "apply": lambda: sim.strategy.apply(plan),
        "wait": lambda: sim.strategy.wait(sim.target, lambda p: None, WAIT_DEADLINE),
        "verify": lambda: sim.strategy.verify(plan),
        "scale": lambda: sim.strategy.scale(sim.target, 0),
    }[path]()


# path, the call that fails (verb, resource, named), what that means for the user
CALLS = [
    ("history", "get", "deployments", True, NOTHING),
    ("history", "list", "replicasets", False, NOTHING),
    ("plan", "get", "deployments", True, NOTHING),
    ("plan", "list", "replicasets", False, NOTHING),
    ("apply", "patch", "deployments", True, REREAD),
    ("wait", None, "deployments", True, WAIT),  # the watch and the reads that replace it
    ("verify", "list", "pods", False, VERIFY),
    ("verify", "list", "services", False, VERIFY),
    ("verify", "get", "endpoints", True, VERIFY),
    ("scale", "patch", "deployments/scale", True, REREAD),
]
NAMES = {"endpoints": "shopping-service"}


def call_text(verb: str | None, resource: str, named: bool) -> str:
    name = NAMES.get(resource, "shopping-service")
    return f"{verb or 'get'} {resource} " + (f"shopping/{name}" if named else "in namespace shopping")


def not_found_text(path: str, verb: str | None, resource: str, named: bool) -> str:
    if path == "wait":
        return "shopping/shopping-service was deleted during the rollback; nothing to wait for. Check who deleted it"
    if path == "apply":
        return "deployment shopping/shopping-service no longer exists; nothing was rolled back."
    if path == "scale":
        return "deployment shopping/shopping-service no longer exists; nothing was scaled"
    if (verb, resource) == ("get", "deployments"):
        return (
            "deployment shopping/shopping-service not found; nothing was changed. "
            "Check the service's namespace and workload in the services catalog."
        )
    return (
        "the Kubernetes API refused (404 NotFound: the server could not find the requested resource) "
        f"when the bot tried to {call_text(verb, resource, named)}; "
    )


CASES = [
    pytest.param(kind, *call, id=f"{kind}-{call[0]}-{call[1] or 'any'}-{call[2]}")
    for kind in (403, 404, 409, 500, "slow")
    for call in CALLS
    if (kind, call[2]) != (404, "endpoints")  # a Service without Endpoints fails a check (next test)
]


@pytest.mark.parametrize(("kind", "path", "verb", "resource", "named", "consequence"), CASES)
def test_every_failed_call_is_explained(sim, kind, path, verb, resource, named, consequence):
    with pytest.raises(RollbackError) as err:
        run_path(sim, path, lambda: fault(sim, kind, verb, resource))
    message = str(err.value)
    call = call_text(verb, resource, named)
    if kind == 403:
        base, _, sub = resource.partition("/")
        group = ".apps" if base in ("deployments", "replicasets") else ""
        can_i = f"kubectl auth can-i {verb or 'get'} {base}{group}" + (f" --subresource={sub}" if sub else "")
        assert message.startswith(
            f"the bot's service account ({ACCOUNT}) is not allowed to {verb or 'get'} {resource} in namespace "
            f"shopping (403 Forbidden, RBAC); {NOTHING if path in ('apply', 'scale') else consequence}. "
            "Ask a cluster admin to grant it"
        ), message
        assert message.endswith(f"check with `{can_i} -n shopping --as={ACCOUNT}`."), message
    elif kind == 404:
        assert message.startswith(not_found_text(path, verb, resource, named)), message
    elif kind == 409:
        assert message.startswith("the Kubernetes API refused (409 Conflict: Operation cannot be fulfilled on "), (
            message
        )
        assert f"when the bot tried to {call}; {consequence}" in message, message
    elif kind == 500:
        assert message.startswith(
            "the Kubernetes API server is failing (500 InternalError: Internal error occurred: etcdserver: "
            "request timed out) when the bot tried to "
        ), message
        assert ("check the control plane (`kubectl get --raw /readyz`)" in message) == (path not in ("wait", "verify"))
    else:
        assert " did not answer within " in message and "when the bot tried to " in message, message
    if kind in (500, "slow") and path == "wait":
        assert f"{WAIT}; the bot stopped following it at the deadline. Follow it with " in message, message
        assert message.endswith("`kubectl rollout status deployment/shopping-service -n shopping`."), message
    elif kind in (500, "slow") and path in ("apply", "scale"):
        pass  # what a failed write did is told by the tests below
    elif kind in (500, "slow"):
        assert f"when the bot tried to {call} (3 tries); {consequence}." in message, message
    assert "<" not in message and "Error(" not in message and "object at 0x" not in message  # no Python reprs


def test_a_service_without_endpoints_fails_the_check_without_an_error(sim):
    plan = sim.strategy.plan(sim.target)
    sim.faults.add(404, verb="get", resource="endpoints")
    checks = {c.name: c for c in sim.strategy.verify(plan).checks}
    assert checks["endpoints"].ok is False
    assert checks["endpoints"].detail == "service shopping-service: 0 ready addresses"


def test_a_write_refused_outright_changes_nothing_and_says_so(sim):
    plan = sim.strategy.plan(sim.target)
    sim.faults.add(500, verb="patch", resource="deployments")
    with pytest.raises(RollbackError) as err:
        sim.strategy.apply(plan)
    assert str(err.value) == (
        "the Kubernetes API server is failing (500 InternalError: Internal error occurred: etcdserver: request "
        "timed out) when the bot tried to patch deployments shopping/shopping-service; nothing was changed "
        "(the bot read the deployment again to make sure). Try again in a minute; if it keeps failing, check "
        "the control plane (`kubectl get --raw /readyz`)."
    )
    assert not sim.strategy.is_applied(plan)
    assert sim.strategy.plan(sim.target).current.number == 3


@pytest.mark.parametrize(
    "lose",
    [
        pytest.param(lambda f: f.add(500, verb="patch", resource="deployments", after=True, times=1), id="500"),
        pytest.param(lambda f: f.add(504, verb="patch", resource="deployments", after=True, times=1), id="504"),
        pytest.param(lambda f: f.delay(SLOW, verb="patch", resource="deployments", after=True, times=1), id="late"),
    ],
)
def test_a_patch_whose_answer_was_lost_is_found_applied(sim, lose):
    plan = sim.strategy.plan(sim.target)
    rule = lose(sim.faults)
    patched = sim.strategy.apply(plan)  # no error: the bot read the deployment again and found the rollback live
    assert rule.hits == 1
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE + "v1.2.4"
    assert sim.strategy.is_applied(plan)
    seen: list[Progress] = []
    sim.strategy.wait(sim.target, seen.append, 600)
    assert seen[-1].done
    assert [r.number for r in sim.strategy.history(sim.target)] == [1, 3, 4]


def test_sending_an_applied_plan_again_is_refused_by_the_guard_and_found_applied(sim):
    plan = sim.strategy.plan(sim.target)
    sim.strategy.apply(plan)
    revision = sim.deployment()["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    again = sim.strategy.apply(plan)  # the test op on resourceVersion fails (422): no second patch
    assert again["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE + "v1.2.4"
    assert sim.deployment()["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == revision == "4"


def test_a_patch_that_timed_out_may_still_land_and_the_user_is_told_to_check(sim):
    plan = sim.strategy.plan(sim.target)
    sim.faults.delay(SLOW, verb="patch", resource="deployments", times=1)  # the server carries it out late
    with pytest.raises(RollbackError) as err:
        sim.strategy.apply(plan)
    assert str(err.value) == (
        f"the Kubernetes API at {sim.api.configuration.host} did not answer within {TIMEOUT:g}s when the bot "
        "tried to patch deployments shopping/shopping-service; the patch was not live when the bot read the "
        "deployment again, but the API server may still apply it. Check with `kubectl rollout history "
        "deployment/shopping-service -n shopping` before trying again: a retry of this plan is refused if it "
        "went through."
    )
    sim.until(lambda: sim.strategy.is_applied(plan))  # it did go through, late
    assert sim.strategy.apply(plan)["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE + "v1.2.4"
    assert sim.deployment()["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"


def test_a_lost_patch_answer_with_the_api_still_failing_says_it_may_or_may_not_be_applied(sim):
    plan = sim.strategy.plan(sim.target)
    sim.faults.add(500, verb="patch", resource="deployments", after=True)
    sim.faults.add(503, verb="get", resource="deployments")
    with pytest.raises(RollbackError) as err:
        sim.strategy.apply(plan)
    assert str(err.value) == (
        "the Kubernetes API server is failing (500 InternalError: Internal error occurred: etcdserver: request "
        "timed out) when the bot tried to patch deployments shopping/shopping-service; the patch may or may not "
        "have been applied, and reading the deployment again failed too. Check with `kubectl rollout history "
        "deployment/shopping-service -n shopping` before trying again: a retry of this plan is refused if it "
        "went through."
    )


def test_a_concurrent_change_behind_a_failed_patch_is_reported_as_such(sim):
    plan = sim.strategy.plan(sim.target)
    sim.kubectl("set", "image", "deployment/shopping-service", f"app={IMAGE}v1.2.6")
    sim.faults.add(500, verb="patch", resource="deployments", times=1)
    with pytest.raises(ConcurrentChange, match="changed after this plan was made"):
        sim.strategy.apply(plan)


def test_a_scale_whose_answer_was_lost_is_found_done(sim):
    rule = sim.faults.add(500, verb="patch", resource="deployments/scale", after=True, times=1)
    sim.strategy.scale(sim.target, 0)
    assert rule.hits == 1
    assert sim.deployment()["spec"]["replicas"] == 0


def test_a_scale_that_timed_out_may_still_happen_and_the_user_is_told_to_check(sim):
    sim.faults.delay(SLOW, verb="patch", resource="deployments/scale", times=1)
    with pytest.raises(RollbackError) as err:
        sim.strategy.scale(sim.target, 0)
    assert str(err.value).endswith(
        "it was not scaled to 0 when the bot read it again, but the API server may still do it. Check with "
        "`kubectl get deployment/shopping-service -n shopping` and scale it by hand if needed."
    )
    sim.until(lambda: sim.deployment()["spec"]["replicas"] == 0)


@pytest.mark.parametrize(
    ("status", "verb", "resource"),
    [
        (500, "get", "deployments"),
        (503, "list", "replicasets"),
        (429, "get", "deployments"),
        (504, "list", "replicasets"),
        ("slow", "get", "deployments"),
    ],
)
def test_reads_recover_from_one_transient_failure(sim, status, verb, resource):
    expected = sim.strategy.history(sim.target)
    if status == "slow":
        rule = sim.faults.delay(SLOW, verb=verb, resource=resource, times=1)
    else:
        rule = sim.faults.add(status, verb=verb, resource=resource, times=1)
    assert sim.strategy.history(sim.target) == expected
    assert rule.hits == 1


def test_every_failed_attempt_is_counted_by_kind_on_the_bots_metrics(sim):
    def errors(kind: str) -> float:
        return REGISTRY.get_sample_value("rollback_bot_call_errors_total", {"system": "kubernetes", "kind": kind}) or 0

    before = errors("http_503"), errors("http_403")
    sim.faults.add(503, verb="get", resource="deployments", times=1)
    sim.strategy.history(sim.target)  # recovered on the second try: the failure still shows
    sim.faults.add(403, verb="get", resource="deployments")
    with pytest.raises(RollbackError):
        sim.strategy.history(sim.target)  # refused: not retried
    assert (errors("http_503") - before[0], errors("http_403") - before[1]) == (1, 1)


def test_verify_recovers_from_one_transient_failure_of_each_read(sim):
    plan = sim.strategy.plan(dataclasses.replace(sim.target, to_revision=3))
    rules = [sim.faults.add(500, verb=v, resource=r, times=1) for v, r in (("list", "pods"), ("get", "endpoints"))]
    assert sim.strategy.verify(plan).ok
    assert [r.hits for r in rules] == [1, 1]


def test_a_hung_watch_falls_back_to_reading_and_the_rollout_is_seen_through(sim):
    rule = sim.faults.hang_watches()
    plan = sim.strategy.plan(sim.target)
    sim.strategy.apply(plan)
    seen: list[Progress] = []
    sim.strategy.wait(sim.target, seen.append, 600)
    assert rule.hits == 1  # one watch hung; then the bot read the deployment instead
    assert seen[-1].done and seen[-1].message == "rolled out: 3/3 new replicas available"


@pytest.mark.timeout(60)  # the failure this guards against is a wait that never returns
def test_a_hung_watch_does_not_hold_the_wait_past_its_deadline(sim):
    sim.faults.hang_watches()
    with pytest.raises(RollbackError) as err:
        sim.strategy.wait(sim.target, lambda p: None, WAIT_DEADLINE)
    assert str(err.value) == (
        f"the Kubernetes API at {sim.api.configuration.host} did not answer within 2s when the bot tried to "
        "watch deployments in namespace shopping; the rollback itself was sent and is not undone by this; the "
        "bot stopped following it at the deadline. Follow it with `kubectl rollout status "
        "deployment/shopping-service -n shopping`."
    )


def test_is_applied_compares_the_whole_pod_template(sim):
    plan = sim.strategy.plan(sim.target)
    assert not sim.strategy.is_applied(plan)
    sim.strategy.apply(plan)
    assert sim.strategy.is_applied(plan)
    assert sim.strategy.is_applied(sim.strategy.plan(dataclasses.replace(sim.target, to_revision=4)))  # skipped


def test_is_applied_sees_an_env_only_difference_with_the_same_image(sim):
    env = [{"name": "FEATURE_CHECKOUT_V2", "value": "on"}]
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGE + "v1.2.5", "env": env}]}}}}
    sim.apps.patch_namespaced_deployment("shopping-service", "shopping", body)  # revision 4: same image, new env
    sim.settle()
    plan = sim.strategy.plan(dataclasses.replace(sim.target, to_revision=3))
    assert plan.skipped is None and plan.desired.image == plan.current.image == IMAGE + "v1.2.5"
    assert not sim.strategy.is_applied(plan)
    sim.strategy.apply(plan)
    assert sim.strategy.is_applied(plan)
    assert "env" not in sim.deployment()["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (
            401,
            "the Kubernetes API rejected the bot's credentials (401 Unauthorized) when it tried to get deployments "
            "shopping/shopping-service; nothing was changed. Renew the bot's token or kubeconfig (KUBECONFIG), then "
            "try again.",
        ),
        (
            429,
            "the Kubernetes API is overloaded and throttled the bot (429 TooManyRequests: Too many requests, please "
            "try again later.) when the bot tried to get deployments shopping/shopping-service (3 tries); nothing was "
            "changed. Try again in a minute.",
        ),
    ],
)
def test_credentials_and_throttling_are_explained(sim, status, said):
    sim.faults.add(status, verb="get", resource="deployments")
    with pytest.raises(RollbackError) as err:
        sim.strategy.history(sim.target)
    assert str(err.value) == said


def test_an_unreachable_api_server_is_explained_without_python_reprs(sim):
    config = client.Configuration()
    config.host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with client.ApiClient(config) as api:
        with pytest.raises(RollbackError) as err:
            KubernetesUndo(api, clock=sim.clock, request_timeout=TIMEOUT).plan(sim.target)
    assert str(err.value) == (
        f"the Kubernetes API at {config.host} cannot be reached (Connection refused) when the bot tried to get "
        "deployments shopping/shopping-service (3 tries); nothing was changed. Check that the API server is up and "
        "reachable from the bot (`kubectl get --raw /readyz`)."
    )


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_a_patch_refused_for_a_moment_with_nothing_changed_is_sent_again_once(sim, status):
    plan = sim.strategy.plan(sim.target)
    rule = sim.faults.add(status, verb="patch", resource="deployments", times=1)  # refused before any change
    patched = sim.strategy.apply(plan)
    assert rule.hits == 1
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE + "v1.2.4"
    assert sim.deployment()["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4", "one rollback"
