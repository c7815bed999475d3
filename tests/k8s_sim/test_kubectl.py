"""Conformance: the real kubectl against the simulator, checked on the text a user reads."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.support import need_binary

pytestmark = pytest.mark.kubectl
D = "deployment/shopping-service"


def _history(sim) -> dict[int, str]:
    out = sim.ok("rollout", "history", D)
    return {int(m[1]): m[2].strip() for m in re.finditer(r"^(\d+)\s+(.*)$", out, re.M)}


def test_get_deployments_replicasets_and_pods(sim):
    out = sim.ok("get", "deploy,rs,pods")
    assert re.search(r"deployment.apps/shopping-service\s+3/3\s+3\s+3\s+3d", out)
    assert len(re.findall(r"replicaset.apps/shopping-service-\w+\s+0\s+0\s+0", out)) == 2
    assert len(re.findall(r"pod/shopping-service-\w+-\w{5}\s+1/1\s+Running\s+0", out)) == 3
    wide = sim.ok("get", "deploy", "-o", "wide")
    assert "registry.local/shopping-service:v1.2.5" in wide and "app=shopping-service" in wide


def test_get_as_json_and_yaml(sim):
    as_json = json.loads(sim.ok("get", "deploy", "shopping-service", "-o", "json"))
    assert (
        as_json["kind"] == "Deployment"
        and as_json["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    )
    as_yaml = yaml.safe_load(sim.ok("get", "deploy", "-o", "yaml"))
    assert as_yaml["kind"] == "List" and as_yaml["items"][0]["spec"]["replicas"] == 3


def test_rollout_history_lists_revisions_and_shows_one_template(sim):
    assert _history(sim) == {
        1: "deploy v1.2.3: checkout redesign",
        2: "deploy v1.2.4: faster cart totals",
        3: "deploy v1.2.5: new payment client",
    }
    one = sim.ok("rollout", "history", D, "--revision", "2")
    assert "with revision #2" in one and "registry.local/shopping-service:v1.2.4" in one


def test_set_image_then_rollout_status_succeeds(sim):
    assert "image updated" in sim.ok("set", "image", D, "app=registry.local/shopping-service:v1.2.6")
    status = sim.ok("rollout", "status", D, "--timeout", "30s")
    assert status.strip().endswith('deployment "shopping-service" successfully rolled out')
    assert max(_history(sim)) == 4


def test_rollout_undo_to_previous_and_to_revision(sim):
    assert "rolled back" in sim.ok("rollout", "undo", D)
    sim.ok("rollout", "status", D, "--timeout", "30s")
    history = _history(sim)
    assert sorted(history) == [1, 3, 4] and history[4] == "deploy v1.2.4: faster cart totals"
    image = sim.ok(
        "get", "deploy", "shopping-service", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    )
    assert image.endswith(":v1.2.4")
    sim.ok("rollout", "undo", D, "--to-revision", "1")
    assert max(_history(sim)) == 5
    rs = json.loads(sim.ok("get", "rs", "-o", "json"))["items"]
    by_rev = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in rs}
    assert by_rev["5"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"


def test_rollout_undo_skips_when_template_matches_and_refuses_paused(sim):
    out = sim.ok("rollout", "undo", D, "--to-revision", "3")
    assert "skipped rollback (current template already matches revision 3)" in out
    assert "paused" in sim.ok("rollout", "pause", D)
    refused = sim.kubectl("rollout", "undo", D)
    assert refused.returncode != 0
    assert "you cannot rollback a paused deployment; resume it first" in refused.stderr
    assert "resumed" in sim.ok("rollout", "resume", D)
    assert "rolled back" in sim.ok("rollout", "undo", D)


def test_rollout_status_reports_progress_deadline_exceeded(fast_sim):
    fast_sim.ok("set", "image", D, "app=registry.local/shopping-service:v1.2.6-crashloop")
    result = fast_sim.kubectl("rollout", "status", D, "--timeout", "40s", timeout=45)
    assert result.returncode != 0
    assert 'error: deployment "shopping-service" exceeded its progress deadline' in result.stderr
    assert "Waiting for deployment" in result.stdout
    pods = fast_sim.ok("get", "pods")
    assert re.search(r"0/1\s+CrashLoopBackOff\s+\d+", pods)


def test_paused_deployment_does_not_roll_out(sim):
    sim.ok("rollout", "pause", D)
    sim.ok("set", "image", D, "app=registry.local/shopping-service:v2")
    assert max(_history(sim)) == 3
    sim.ok("rollout", "resume", D)
    sim.ok("rollout", "status", D, "--timeout", "30s")
    assert max(_history(sim)) == 4


def test_scale(sim):
    assert "scaled" in sim.ok("scale", D, "--replicas", "5")
    sim.ok("rollout", "status", D, "--timeout", "30s")
    assert re.search(r"shopping-service\s+5/5\s+5\s+5", sim.ok("get", "deploy"))


def test_patch_json_merge_and_strategic(sim):
    ops = '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.local/x:1"}]'
    assert "patched" in sim.ok("patch", "deploy", "shopping-service", "--type", "json", "-p", ops)
    sim.ok(
        "patch",
        "deploy",
        "shopping-service",
        "--type",
        "merge",
        "-p",
        '{"metadata":{"labels":{"team":"pay"}}}',
    )
    sim.ok(
        "patch",
        "deploy",
        "shopping-service",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"MODE","value":"safe"}]}]}}}}',
    )
    d = json.loads(sim.ok("get", "deploy", "shopping-service", "-o", "json"))
    container = d["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.local/x:1" and container["env"] == [
        {"name": "MODE", "value": "safe"}
    ]
    assert d["metadata"]["labels"]["team"] == "pay"
    failed = sim.kubectl(
        "patch",
        "deploy",
        "shopping-service",
        "--type",
        "json",
        "-p",
        '[{"op":"test","path":"/metadata/resourceVersion","value":"1"}]',
    )
    assert failed.returncode != 0 and "test failed" in failed.stderr


def test_get_watch_prints_changes_and_ends_on_request_timeout(sim):
    binary = need_binary("kubectl")
    cmd = [
        binary,
        "--kubeconfig",
        str(sim.kubeconfig),
        "--cache-dir",
        str(sim.cache),
        "get",
        "deploy",
        "-w",
        "--request-timeout",
        "4s",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        header = proc.stdout.readline()  # the list is printed: the watch starts from its resourceVersion
        first = proc.stdout.readline()
        sim.ok("scale", D, "--replicas", "4")
        rest, _ = proc.communicate(timeout=20)
    assert header.split()[:2] == ["NAME", "READY"] and re.search(r"shopping-service\s+3/3", first)
    assert re.search(r"shopping-service\s+\d/4", rest)  # the scale arrived through the watch
    assert proc.returncode == 0


def test_delete_removes_the_deployment_and_everything_it_owns(sim):
    assert 'deployment.apps "shopping-service" deleted' in sim.ok("delete", D)
    leftover = sim.kubectl("get", "deploy,rs,pods")
    assert "shopping-service" not in leftover.stdout
    assert "No resources found" in leftover.stderr
