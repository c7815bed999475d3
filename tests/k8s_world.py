"""The test scenario with backup images and GitOps-managed services, served over loopback HTTP to the real
python client (``api``: the bot's bounded calls) and the real kubectl."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from bot.providers.kubernetes.api import Api
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.scenario import load_scenario
from tests.support import need_binary

SCENARIO = Path(__file__).parent / "scenarios" / "gitops_jobs.yaml"
NS = "shop"


@dataclass
class World:
    cluster: Cluster
    clock: SimClock
    kubeconfig: Path
    client: client.ApiClient
    api: Api

    def kubectl(self, *args: str) -> str:
        done = subprocess.run(
            [need_binary("kubectl"), "--kubeconfig", str(self.kubeconfig), "-n", NS, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def deployment(self, name: str) -> dict:
        return self.cluster.get("deployments", NS, name) or {}

    def image(self, name: str) -> str:
        return self.deployment(name)["spec"]["template"]["spec"]["containers"][0]["image"]

    def set_image(self, name: str, image: str) -> None:
        """A patch of the Deployment made outside GitOps (as a rollback is)."""
        body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
        client.AppsV1Api(self.client).patch_namespaced_deployment(name, NS, body)

    @staticmethod
    def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (real seconds at most) for a state the controllers reach asynchronously."""
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise AssertionError("the simulator never reached the expected state")
            time.sleep(0.02)


@contextmanager
def served_world(
    tmp_path: Path, scale: float = 20.0, request_timeout: float = 5.0, scenario: Path = SCENARIO
) -> Iterator[World]:
    clock = SimClock(scale)
    cluster = Cluster(load_scenario(scenario), clock).start()
    server = SandboxServer(make_api(cluster)).start()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig-world", server.url, namespace=NS)
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield World(cluster, clock, kubeconfig, api_client, Api(api_client, request_timeout))
    finally:
        cluster.faults.clear()
        api_client.close()
        cluster.stop()
        server.stop()
