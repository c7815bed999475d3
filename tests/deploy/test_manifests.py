"""deploy/kubernetes: what `kubectl kustomize` makes of the base and of each overlay is valid against the
Kubernetes schemas (kubernetes-validate ships them, offline, strict: an unknown field is an error), and has
the shape a platform engineer expects: two web replicas with their probes, a migrate init container, a
worker, non-root pods, the tokens from a Secret, and the RBAC that `rollback-bot rbac` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import need_binary

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).parent.parent.parent
DEPLOY = ROOT / "deploy" / "kubernetes"
BUILDS = {"base": DEPLOY / "base", "postgres": DEPLOY / "overlays" / "postgres"}


def kustomize(path: Path) -> list[dict]:
    kubectl = need_binary("kubectl")
    out = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module", params=list(BUILDS))
def built(request) -> tuple[str, list[dict]]:
    return request.param, kustomize(BUILDS[request.param])


def one(docs: list[dict], kind: str, name: str) -> dict:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_every_manifest_is_valid_against_the_kubernetes_schemas(built):
    name, docs = built
    version = kubernetes_validate.latest_version()
    kinds = set()
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
        kinds.add(doc["kind"])
    expected = {"Namespace", "ServiceAccount", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy",
                "ConfigMap", "Role", "RoleBinding"}
    assert kinds == expected, kinds


def test_the_web_runs_two_replicas_with_probes_after_the_migrations(built):
    _, docs = built
    web = one(docs, "Deployment", "rollback-bot-web")["spec"]
    assert web["replicas"] == 2
    pod = web["template"]["spec"]
    (app,) = pod["containers"]
    assert app["args"] == ["serve", "--no-worker"]
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert [c["args"] for c in pod["initContainers"]] == [["migrate"]]
    service = one(docs, "Service", "rollback-bot")["spec"]
    assert service["selector"] == web["selector"]["matchLabels"]
    budget = one(docs, "PodDisruptionBudget", "rollback-bot-web")["spec"]
    assert budget["selector"]["matchLabels"] == web["selector"]["matchLabels"] and budget["minAvailable"] == 1


def test_every_pod_is_non_root_read_only_and_reads_the_catalog_and_the_tokens(built):
    _, docs = built
    worker = one(docs, "Deployment", "rollback-bot-worker")["spec"]["template"]["spec"]
    assert [c["args"] for c in worker["containers"]] == [["worker"]]
    catalog = one(docs, "ConfigMap", next(d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"))
    assert catalog["data"]["services.yaml"] == (ROOT / "config" / "services.example.yaml").read_text()
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "rollback-bot" and pod["securityContext"]["runAsNonRoot"] is True
        assert {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v} == {catalog["metadata"]["name"]}
        for container in pod["containers"] + pod["initContainers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
            assert secrets["SLACK_BOT_TOKEN"] == secrets["SLACK_SIGNING_SECRET"] == "rollback-bot"
            assert not [e for e in container["env"] if "TOKEN" in e["name"] and "value" in e], "no token in Git"


def test_the_postgres_overlay_reads_database_url_from_the_databases_secret():
    for name, wanted in (("base", "rollback-bot"), ("postgres", "rollback-bot-postgres")):
        for deployment in (d for d in kustomize(BUILDS[name]) if d["kind"] == "Deployment"):
            pod = deployment["spec"]["template"]["spec"]
            for container in pod["containers"] + pod["initContainers"]:
                (url,) = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
                assert url["valueFrom"]["secretKeyRef"] == {"name": wanted, "key": "DATABASE_URL"}, (name, container)


def test_the_roles_are_what_rollback_bot_rbac_prints_for_the_example_catalog():
    printed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rbac", "config/services.example.yaml"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert (DEPLOY / "base" / "rbac.yaml").read_text() == printed.stdout, (
        "deploy/kubernetes/base/rbac.yaml is stale: run `rollback-bot rbac config/services.example.yaml "
        "> deploy/kubernetes/base/rbac.yaml`"
    )
    assert (DEPLOY / "base" / "services.yaml").read_text() == (ROOT / "config" / "services.example.yaml").read_text()


def test_nothing_is_granted_cluster_wide(built):
    _, docs = built
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert bindings and all(
        b["subjects"] == [{"kind": "ServiceAccount", "name": "rollback-bot", "namespace": "rollback-bot"}]
        for b in bindings
    )
