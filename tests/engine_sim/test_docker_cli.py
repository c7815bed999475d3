"""Conformance: the real ``docker`` CLI against the Engine API simulator (DOCKER_HOST=tcp://127.0.0.1:<port>),
checked on the text a user reads, as kubectl is checked against the Kubernetes simulator."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import pytest

from bot.sandbox.clock import SimClock
from bot.sandbox.engine.world import SwarmEngine
from bot.sandbox.scenario import load_scenario, with_swarm
from tests.support import need_binary


class Cli:
    def __init__(self, engine: SwarmEngine, docker: str) -> None:
        self.engine, self.docker = engine, docker

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.docker, *args], env=self.engine.cli_env(), capture_output=True, text=True, timeout=timeout
        )

    def ok(self, *args: str, timeout: float = 60) -> str:
        done = self.run(*args, timeout=timeout)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def inspect(self) -> dict:
        return json.loads(self.ok("service", "inspect", "basket"))[0]


@pytest.fixture
def cli():
    docker = need_binary("docker")
    scenario = with_swarm(load_scenario())
    engine = SwarmEngine(scenario, SimClock(scale=4)).start()
    try:
        yield Cli(engine, docker)
    finally:
        engine.stop()


def test_version_negotiates_the_simulator_s_api_version(cli):
    out = cli.ok("version")
    assert re.search(r"API version:\s+1\.47 \(downgraded from 1\.\d+\)", out), out
    assert "27.5.1" in out


def test_service_ls_ps_and_inspect(cli):
    assert re.search(r"\w{12}\s+basket\s+replicated\s+5/5\s+registry\.local/basket:v1\.2\.4", cli.ok("service", "ls"))
    ps = cli.ok("service", "ps", "basket")
    assert len(re.findall(r"basket\.\d\s+registry\.local/basket:v1\.2\.4\s+swarm-\S+\s+Running\s+Running", ps)) == 5
    service = cli.inspect()
    assert service["Spec"]["UpdateConfig"]["Parallelism"] == 2
    assert service["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "registry.local/basket:v1.2.3"
    pretty = cli.ok("service", "inspect", "--pretty", "basket")
    assert "On failure:\tpause" in pretty and "Env:\t\tPAYMENT_PROVIDER=stripe CART_TTL=1800" in pretty


def test_update_image_then_rollback_converge(cli):
    out = cli.ok("service", "update", "--image", "registry.local/basket:v1.2.5", "basket", timeout=90)
    assert "verify: Service converged" in out or "Service basket converged" in out, out
    service = cli.inspect()
    assert service["UpdateStatus"]["State"] == "completed"
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].startswith("registry.local/basket:v1.2.5")
    assert "1/1" not in cli.ok("service", "ls")
    out = cli.ok("service", "rollback", "basket", timeout=90)
    assert "rollback: manually requested rollback" in out and "converged" in out, out
    service = cli.inspect()
    assert service["UpdateStatus"]["State"] == "rollback_completed"
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "registry.local/basket:v1.2.4"


def test_an_update_whose_tasks_fail_pauses_in_the_engine_s_words(cli):
    images = cli.engine.scenario.images
    images["registry.local/basket:v1.2.5"] = dataclasses.replace(images["registry.local/basket:v1.2.5"], crashloop=True)
    cli.ok("service", "update", "--detach", "--image", "registry.local/basket:v1.2.5", "basket")
    cli.engine.swarm.clock.advance(5)
    status = cli.inspect()["UpdateStatus"]
    assert status["State"] == "paused", status
    assert status["Message"].startswith("update paused due to failure or early termination of task")
    ps = cli.ok("service", "ps", "basket")
    assert "task: non-zero exit (1)" in ps and "Failed" in ps, ps
    assert "registry.local/basket:v1.2.4" in ps  # the slots not reached still run the old release


def test_a_rollback_without_previous_spec_is_refused(cli):
    cli.engine.swarm.find("basket").previous = None
    done = cli.run("service", "rollback", "--detach", "basket")
    assert done.returncode != 0 and "does not have a previous spec" in done.stderr, done.stderr


def test_only_a_world_that_asks_for_swarm_has_the_engine_and_its_service(tmp_path):
    from bot.sandbox.world import World

    plain, swarm = World(state_dir=tmp_path / "a"), World(state_dir=tmp_path / "b", swarm=True)
    assert plain.engine is None and "basket" not in {s.name for s in plain.scenario.services}
    assert swarm.engine is not None and swarm.scenario.service("basket").strategy == "swarm"
