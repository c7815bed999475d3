"""A simulated cluster served over loopback HTTP, a kubeconfig for it, and a real-kubectl runner."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.scenario import load_scenario
from tests.support import need_binary

NS, DEPLOY = "shopping", "shopping-service"


@dataclass
class Sim:
    cluster: Cluster
    clock: SimClock
    url: str
    kubeconfig: Path
    cache: Path

    def kubectl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run the real kubectl against the simulator; output text is what a user would read."""
        binary = need_binary("kubectl")
        cmd = [binary, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def ok(self, *args: str, timeout: float = 30) -> str:
        result = self.kubectl(*args, timeout=timeout)
        assert result.returncode == 0, result.stderr
        return result.stdout


def _start(tmp_path: Path, scale: float) -> Iterator[Sim]:
    clock = SimClock(scale=scale)
    cluster = Cluster(load_scenario(), clock).start()
    server = SandboxServer(make_api(cluster)).start()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url, namespace=NS)
    try:
        yield Sim(cluster, clock, server.url, kubeconfig, tmp_path / "kube-cache")
    finally:
        cluster.stop()
        server.stop()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """The default scenario on a clock 60 times faster than the wall (a 2 s readiness takes ~33 ms)."""
    yield from _start(tmp_path, 60.0)


@pytest.fixture
def fast_sim(tmp_path: Path) -> Iterator[Sim]:
    """A clock fast enough that the 600 s progress deadline passes in about 2 s of wall time."""
    yield from _start(tmp_path, 300.0)


@pytest.fixture
def cluster() -> Cluster:
    """The cluster alone, no thread and no server: time moves only with ``clock.advance``."""
    return Cluster(load_scenario(), SimClock(scale=1.0))
