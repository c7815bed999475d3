"""A Kubernetes API simulator on a loopback port, the real python client, and the real kubectl."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from bot.providers.kubernetes.deployment.strategy import KubernetesUndo
from bot.providers.kubernetes.locator import k8s, k8s_target
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s.faults import Faults
from bot.sandbox.scenario import load_scenario
from bot.strategies.base import Progress, Target
from tests.support import need_binary

SCALE = 20.0  # simulated seconds per real second: a 2 s pod start takes 0.1 s
TIMEOUT = 5.0  # real seconds per API request: generous, as other tests share the machine


@dataclass
class Sim:
    clock: SimClock
    kubeconfig: Path
    api: client.ApiClient
    strategy: KubernetesUndo
    target: Target
    faults: Faults

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    def deployment(self) -> dict:
        return self.api.sanitize_for_serialization(
            self.apps.read_namespaced_deployment(k8s(self.target).workload, k8s(self.target).namespace)
        )

    def kubectl(self, *args: str) -> str:
        """Run the real kubectl against the simulator; fail the test with its stderr on error."""
        done = subprocess.run(
            [
                need_binary("kubectl"),
                "--kubeconfig",
                str(self.kubeconfig),
                "-n",
                k8s(self.target).namespace,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def settle(self) -> list[Progress]:
        """Wait (simulated minutes at most) until the live rollout is complete; the progress seen."""
        seen: list[Progress] = []
        self.strategy.wait(self.target, seen.append, 600)
        return seen

    @staticmethod
    def until(condition: Callable[[], bool], tries: int = 400) -> None:
        """Poll a condition the controller reaches asynchronously (a wait, not a timing assertion)."""
        for _ in range(tries):
            if condition():
                return
            time.sleep(0.02)
        raise AssertionError("the simulator never reached the expected state")

    def set_image(self, version: str, **spec) -> None:
        """A deploy made outside the bot (strategic merge patch, as ``kubectl set image`` sends)."""
        body = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "app", "image": f"registry.local/shopping-service:{version}"}]
                    }
                },
                **spec,
            }
        }
        self.apps.patch_namespaced_deployment(k8s(self.target).workload, k8s(self.target).namespace, body)


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator:
    """Factory: ``make_sim(scale, request_timeout, scenario)`` starts a scenario (the default one); everything
    started is stopped after, its faults lifted first."""
    from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig

    started: list = []

    def make(scale: float = SCALE, request_timeout: float = TIMEOUT, scenario: Path | None = None) -> Sim:
        clock = SimClock(scale)
        cluster = Cluster(load_scenario(scenario), clock)
        cluster.start()
        started.append(cluster)
        server = SandboxServer(make_api(cluster)).start()
        started.append(server)
        kubeconfig = tmp_path / f"kubeconfig-{len(started)}"
        write_kubeconfig(kubeconfig, server.url, "shopping")
        api = config.new_client_from_config(config_file=str(kubeconfig))
        started.append(api)
        target = k8s_target("shopping-service", "shopping", "shopping-service", "app")
        strategy = KubernetesUndo(api, clock=clock, request_timeout=request_timeout)
        sim = Sim(clock, kubeconfig, api, strategy, target, cluster.faults)
        sim.settle()
        return sim

    yield make
    for thing in started:
        if isinstance(thing, Cluster):
            thing.faults.clear()  # first: the server's close waits for requests a fault stalls
    for thing in reversed(started):
        (thing.close if isinstance(thing, client.ApiClient) else thing.stop)()


@pytest.fixture
def sim(make_sim) -> Sim:
    return make_sim()
