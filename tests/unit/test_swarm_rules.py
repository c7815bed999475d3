"""The swarm strategy's pure parts: its catalog options (errors with file and line, TLS required off loopback),
the plan's lines, a recorded spec (a credential only as a hash) and where an update stands."""

from __future__ import annotations

import json

from bot.config import load_catalog
from bot.providers.docker.swarm import rules
from bot.providers.docker.swarm.options import SwarmOptions
from tests.unit.test_registry import errors_of, write

ENTRY = """
services:
  basket:
    rollback_allowed: [U0ONCALL1]
    strategy: swarm
    options: {options}
"""


def catalog(tmp_path, options: str):
    return write(tmp_path, ENTRY.format(options=options))


def test_a_tcp_endpoint_with_tls_files_and_an_ssh_endpoint_are_accepted(tmp_path):
    tls = "{host: 'tcp://swarm.internal:2376', service: basket, tls: {ca: /certs/ca.pem, cert: /certs/cert.pem, " \
          "key: /certs/key.pem}}"
    o = load_catalog(catalog(tmp_path, tls)).services["basket"].options
    assert o == SwarmOptions("tcp://swarm.internal:2376", "basket", "/certs/ca.pem", "/certs/cert.pem",
                             "/certs/key.pem")
    ssh = load_catalog(catalog(tmp_path, "{host: 'ssh://deploy@swarm.internal', service: basket}"))
    assert ssh.services["basket"].options.host == "ssh://deploy@swarm.internal"


def test_bad_options_are_errors_with_file_and_line(tmp_path):
    plain = errors_of(catalog(tmp_path, "{host: 'tcp://swarm.internal:2375', service: basket}"))
    assert any(":5: services.basket.options.tls: a tcp:// Engine off this host needs TLS client certificates" in e
               for e in plain), plain
    missing = errors_of(catalog(tmp_path, "{host: 'http://x:1', tls: {ca: ca.pem}}"))
    text = "\n".join(missing)
    assert "services.basket.options.service: missing (the Swarm service's name)" in text, text
    wrong = errors_of(catalog(tmp_path, "{host: 'http://x:1', service: basket}"))
    assert any("options.host: expected the Engine endpoint, DOCKER_HOST-style" in e for e in wrong), wrong
    files = errors_of(catalog(tmp_path, "{host: 'tcp://x:2376', service: basket, tls: {ca: ca.pem, cert: /c}}"))
    joined = "\n".join(files)
    assert "options.tls.key: missing" in joined and "options.tls.ca: expected an absolute path" in joined, joined


def spec(image: str, env: dict[str, str], failure: str = "pause") -> dict:
    return {"TaskTemplate": {"ContainerSpec": {"Image": image, "Env": [f"{k}={v}" for k, v in env.items()]}},
            "Mode": {"Replicated": {"Replicas": 5}},
            "UpdateConfig": {"Parallelism": 2, "Delay": 1_000_000_000, "FailureAction": failure}}


def test_the_plan_lines_show_image_env_and_update_config_never_a_credential():
    live = spec("shop/basket:v1.2.5@sha256:abc", {"PROVIDER": "adyen", "DB_PASSWORD": "hunter2"}, "pause")
    old = spec("shop/basket:v1.2.4", {"PROVIDER": "stripe", "DB_PASSWORD": "swordfish"}, "rollback")
    lines = rules.changes(live, old)
    assert lines[0] == "image shop/basket:v1.2.5 → shop/basket:v1.2.4"
    assert 'env PROVIDER: "adyen" → "stripe"' in lines
    assert "env DB_PASSWORD: (a credential, not shown) → (a credential, not shown)" in lines
    assert any(line.startswith("UpdateConfig: parallelism 2, delay 1s, on failure pause") for line in lines)
    assert "hunter2" not in json.dumps(lines) and "swordfish" not in json.dumps(lines)


def test_a_recorded_spec_holds_a_credential_only_as_a_hash_and_a_restore_keeps_the_live_one():
    data = rules.recorded(spec("shop/basket:v1.2.3", {"PROVIDER": "stripe", "API_TOKEN": "old-secret"}))
    assert "old-secret" not in json.dumps(data) and json.loads(data["env"])["API_TOKEN"].startswith("sha256:")
    live = spec("shop/basket:v1.2.5", {"PROVIDER": "adyen", "API_TOKEN": "new-secret"})
    restored, kept = rules.restored(live, data)
    assert rules.image(restored) == "shop/basket:v1.2.3" and kept == ["API_TOKEN"]
    assert rules.env(restored) == {"PROVIDER": "stripe", "API_TOKEN": "new-secret"}


def task(image: str, state: str) -> dict:
    return {"DesiredState": "running", "Status": {"State": state}, "Spec": {"ContainerSpec": {"Image": image}}}


def test_an_update_is_done_only_when_the_engine_says_completed_and_a_pause_is_a_failure_in_its_words():
    service = {"Spec": spec("b:v1.2.4", {}), "UpdateStatus": {"State": "rollback_started",
                                                              "Message": rules.MANUAL}}
    tasks = [task("b:v1.2.4", "running")] * 3 + [task("b:v1.2.5", "running")] * 2
    state = rules.update_state(service, tasks, "b:v1.2.4", rollback=False)
    assert state.progress.message == "3/5 tasks running v1.2.4" and not state.done and state.failure is None
    service["UpdateStatus"] = {"State": "rollback_paused", "Message": "rollback paused due to failure of task x"}
    paused = rules.update_state(service, tasks, "b:v1.2.4", rollback=True)
    assert paused.failure == ("the Engine PAUSED the rollback (UpdateStatus rollback_paused): rollback paused due to "
                              "failure of task x")
    service["UpdateStatus"] = {"State": "rollback_completed", "Message": "rollback completed"}
    done = rules.update_state(service, [task("b:v1.2.4", "running")] * 5, "b:v1.2.4", rollback=True)
    assert done.done and done.progress.message == "5/5 tasks running v1.2.4"
