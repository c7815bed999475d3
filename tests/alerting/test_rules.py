"""The runbook's triggers as Prometheus rules: checked and unit-tested by the real promtool, and built from the
catalog's thresholds, so the committed file cannot drift from the defaults the bot reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from bot.config.alert_rules import Watched, rules, rules_yaml
from bot.config.queries import Thresholds
from bot.sandbox.alertmanager import AlertmanagerProcess
from tests.support import need_binary

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str, cwd: Path = RULES) -> subprocess.CompletedProcess:
    return subprocess.run([need_binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_rules_pass_promtool_check():
    done = promtool("check", "rules", "rollback-bot.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_each_trigger_fires_after_its_duration_and_not_a_minute_before():
    done = promtool("test", "rules", "rollback-bot.rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_shorter_for_makes_the_unit_tests_fail(tmp_path):
    """The tests pin each duration: the error-rate rule with `for: 4m` fires a minute early and is caught."""
    (tmp_path / "rollback-bot.rules.yml").write_text(
        (RULES / "rollback-bot.rules.yml").read_text().replace("for: 5m", "for: 4m")
    )
    (tmp_path / "rollback-bot.rules.test.yml").write_text((RULES / "rollback-bot.rules.test.yml").read_text())
    done = promtool("test", "rules", "rollback-bot.rules.test.yml", cwd=tmp_path)
    assert done.returncode != 0 and "alertname: HighErrorRate, time: 15m" in done.stdout + done.stderr


def test_the_committed_file_is_the_catalog_defaults():
    """Edit bot/config/queries.py's Thresholds, then regenerate: `rollback-bot alert-rules --defaults`."""
    assert (RULES / "rollback-bot.rules.yml").read_text() == rules_yaml()
    durations = {r["alert"]: r.get("for") for r in rules()["groups"][0]["rules"]}
    assert durations == {
        "HighErrorRate": "5m",
        "LowSuccessRate": "10m",
        "HighLatencyP95": "15m",
        "HighMemory": "20m",
        "FrequentRestarts": None,  # its 10m window is the duration
    }


def test_a_service_with_its_own_thresholds_gets_its_own_group_and_the_default_group_skips_it(tmp_path):
    own = Watched("ledger", Thresholds(error_rate=0.01, error_rate_for="2m"), "5m")
    same = Watched("shop", Thresholds(), "5m")
    groups = rules((own, same))["groups"]
    assert [g["name"] for g in groups] == ["rollback-bot-triggers", "rollback-bot-triggers-ledger"]
    default_error, ledger_error = (g["rules"][0] for g in groups)
    assert 'service!~"ledger"' in default_error["expr"] and default_error["for"] == "5m"
    assert 'service=~"ledger"' in ledger_error["expr"] and ledger_error["expr"].endswith("> 0.01")
    assert ledger_error["for"] == "2m"
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules((own, same))))
    done = promtool("check", "rules", str(path), cwd=tmp_path)
    assert done.returncode == 0 and "SUCCESS: 10 rules found" in done.stdout, done.stdout + done.stderr


def test_the_alertmanager_example_and_the_sandbox_config_pass_amtool(tmp_path):
    amtool = need_binary("amtool")
    example = RULES.parent / "alertmanager" / "alertmanager.yml"
    sandbox = AlertmanagerProcess()
    sandbox.webhook_url, sandbox.token = "http://127.0.0.1:3000/alerts/alertmanager", "t0ken"
    (tmp_path / "sandbox.yml").write_text(yaml.safe_dump(sandbox.config()))
    for path in (example, tmp_path / "sandbox.yml"):
        done = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr
    text = example.read_text()
    assert "/alerts/alertmanager" in text and "send_resolved: true" in text
