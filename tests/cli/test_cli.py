"""The command line as an operator uses it: sandbox, check-config, report."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.sandbox.httpserver import free_port
from bot.sandbox.scenario import default_scenario_path
from bot.state.db import Database
from tests.support import need_binary

CLI = [sys.executable, "-m", "bot.cli"]


def test_sandbox_serves_kubectl_until_interrupted(tmp_path):
    kubectl = need_binary("kubectl")
    kubeconfig, port = tmp_path / "kubeconfig", free_port()
    proc = subprocess.Popen(
        [
            *CLI,
            "sandbox",
            "--scenario",
            str(default_scenario_path()),
            "--port",
            str(port),
            "--kubeconfig",
            str(kubeconfig),
            "--no-prometheus",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        got = subprocess.run(
            [kubectl, "--kubeconfig", str(kubeconfig), "get", "deploy", "-n", "shopping"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert got.returncode == 0, got.stderr
        assert "shopping-service   3/3" in got.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"127.0.0.1:{port}" in out and "Ctrl-C stops the sandbox" in out


def test_check_config_names_file_line_and_field(tmp_path):
    good = subprocess.run([*CLI, "check-config", "config/services.example.yaml"], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout
    bad = tmp_path / "services.yaml"
    bad.write_text("services:\n  shopping-service:\n    namespace: shopping\n    thresholds:\n      error_rate: high\n")
    result = subprocess.run([*CLI, "check-config", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{bad}:5" in result.stderr and "thresholds.error_rate" in result.stderr


def test_check_config_warns_but_passes_when_anyone_may_roll_back(tmp_path):
    path = tmp_path / "services.yaml"
    path.write_text(
        "services:\n  cart:\n    namespace: shop\n  shop:\n    strategy: aws-ecs\n    options:\n"
        "      cluster: arn:aws:ecs:eu-west-1:123456789012:cluster/shop\n      service: web\n      region: eu-west-1a\n"
    )
    refused = subprocess.run([*CLI, "check-config", str(path)], capture_output=True, text=True)
    assert refused.returncode == 1 and "OK" not in refused.stdout
    assert f"{path}:9: services.shop.options.region: expected an AWS region such as eu-west-1, got 'eu-west-1a'" in (
        refused.stderr
    )
    assert f"{path}:3: warning: services.cart.rollback_allowed: anyone in the workspace" in refused.stderr
    path.write_text("services:\n  cart:\n    namespace: shop\n")
    warned = subprocess.run([*CLI, "check-config", str(path)], capture_output=True, text=True)
    assert warned.returncode == 0, warned.stderr
    assert warned.stdout.strip() == f"{path}: OK (1 warning)"
    assert warned.stderr.strip().startswith(f"{path}:3: warning: services.cart.rollback_allowed: anyone")
    assert "roll back cart (the default)" in warned.stderr


def test_report_of_an_unknown_incident_says_so(tmp_path):
    env = _env(tmp_path)
    Database(env["DATABASE_URL"]).migrate()
    result = subprocess.run(
        [*CLI, "report", "INC-2026-999"], capture_output=True, text=True, env=env, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 1
    assert "No incident INC-2026-999" in result.stderr


def test_missing_settings_are_named(tmp_path):
    result = subprocess.run([*CLI, "worker"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr


def test_check_config_names_a_cluster_the_kubeconfig_has_no_context_for(tmp_path):
    path, kubeconfig = tmp_path / "services.yaml", tmp_path / "kubeconfig"
    path.write_text("services:\n  cart:\n    namespace: shop\n    cluster: prod-eu\n"
                    "    rollback_allowed: [U0ONCALL1]\n")
    kubeconfig.write_text("contexts:\n- name: prod-us\n  context: {cluster: us}\n")
    env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": str(kubeconfig)}
    result = subprocess.run([*CLI, "check-config", str(path)], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert f"{path}:4: services.cart.cluster: the kubeconfig has no context 'prod-eu'" in result.stderr
    kubeconfig.write_text("contexts:\n- name: prod-eu\n  context: {cluster: eu}\n")
    result = subprocess.run([*CLI, "check-config", str(path)], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip() == f"{path}: OK", result.stderr


def _env(tmp_path, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "s",
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "ROLLBACK_BOT_CONFIG": "config/services.example.yaml",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        **extra,
    }


def test_serve_refuses_an_unmigrated_database_until_migrate_ran_once(tmp_path):
    env, root = _env(tmp_path), Path(__file__).parents[2]
    head = Database(f"sqlite:///{tmp_path / 'head.db'}").revisions()[1]  # the newest revision this code knows
    refused = subprocess.run([*CLI, "serve"], capture_output=True, text=True, env=env, cwd=root, timeout=60)
    assert refused.returncode == 2
    assert f"cannot start: the database schema is empty (never migrated); this bot needs revision {head}. " \
        "Run `rollback-bot migrate` once" in refused.stderr
    no_slack = {k: v for k, v in env.items() if not k.startswith("SLACK_")}  # an init container needs no tokens
    first = subprocess.run([*CLI, "migrate"], capture_output=True, text=True, env=no_slack, cwd=root, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"migrated the schema from nothing (a new database) to revision {head}" in first.stdout
    again = subprocess.run([*CLI, "migrate"], capture_output=True, text=True, env=no_slack, cwd=root, timeout=60)
    assert f"the schema is at revision {head} already; nothing to do" in again.stdout


def test_the_worker_serves_its_metrics_and_readiness_and_logs_json(tmp_path):
    import json

    import requests

    port = free_port()
    env = _env(tmp_path, METRICS_PORT=str(port), LOG_FORMAT="json", MIGRATE_ON_START="true")
    proc = subprocess.Popen(
        [*CLI, "worker"], env=env, cwd=Path(__file__).parents[2], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline, ready = time.monotonic() + 30, None
        while time.monotonic() < deadline and ready is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                ready = answer if answer.status_code == 200 else None
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.json() == {"status": "ready"}, "its own heartbeat makes it ready"
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        assert "rollback_bot_worker_lease_seconds 30.0" in metrics
        assert "rollback_bot_worker_lease_lag_seconds" in metrics
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(line["message"].startswith("worker: GET /metrics, /healthz and /readyz on port") for line in lines)
