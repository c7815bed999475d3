"""Click-to-patch time of our undo (plan + JSON Patch accepted) against ``kubectl rollout undo``.

Starts the Kubernetes API simulator in-process, then alternates the two N times so the
Deployment keeps flipping between v1.2.5 and v1.2.4; each rollout is allowed to finish
(untimed) before the next undo. Prints median / p90 of each and the ratio ours/kubectl
(target <= 0.25). Run: ``.venv/bin/python bench/undo_speed.py [rounds]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import config

from bot.providers.kubernetes.deployment.strategy import KubernetesUndo
from bot.providers.kubernetes.locator import k8s, k8s_target
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.scenario import load_scenario

TARGET = k8s_target("shopping-service", "shopping", "shopping-service", "app")
RATIO_TARGET = 0.25  # plan + patch within a quarter of kubectl's own undo


def kubectl_path() -> str:
    local = Path(sys.executable).parent / "kubectl"
    return str(local) if local.exists() else "kubectl"


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1] if len(samples) > 1 else samples[0]


def main(rounds: int = 20) -> int:
    clock = SimClock(50)
    cluster = Cluster(load_scenario(), clock)
    cluster.start()
    server = SandboxServer(make_api(cluster)).start()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        write_kubeconfig(kubeconfig, server.url, k8s(TARGET).namespace)
        api = config.new_client_from_config(config_file=str(kubeconfig))
        undo = KubernetesUndo(api, clock=clock)
        settle = lambda: undo.wait(TARGET, lambda p: None, 600)  # noqa: E731
        kubectl = [kubectl_path(), "--kubeconfig", str(kubeconfig), "-n", k8s(TARGET).namespace,
                   "rollout", "undo", f"deployment/{k8s(TARGET).workload}"]
        ours: list[float] = []
        theirs: list[float] = []
        try:
            settle()
            undo.apply(undo.plan(TARGET))  # warm-up: connection pool, imports
            settle()
            for _ in range(rounds):
                t0 = time.perf_counter()
                undo.apply(undo.plan(TARGET))
                ours.append(time.perf_counter() - t0)
                settle()
                t0 = time.perf_counter()
                subprocess.run(kubectl, check=True, capture_output=True)
                theirs.append(time.perf_counter() - t0)
                settle()
        finally:
            api.close()
            server.stop()
            cluster.stop()
    ms = lambda s: f"{s * 1000:7.1f} ms"  # noqa: E731
    print(f"rounds: {rounds}")
    print(f"ours    plan+patch : median {ms(statistics.median(ours))}  p90 {ms(p90(ours))}")
    print(f"kubectl rollout undo: median {ms(statistics.median(theirs))}  p90 {ms(p90(theirs))}")
    ratio = statistics.median(ours) / statistics.median(theirs)
    verdict = "met" if ratio <= RATIO_TARGET else "NOT met"
    print(f"ratio ours/kubectl (median): {ratio:.2f}  target <= {RATIO_TARGET}: {verdict}")
    return 0 if ratio <= RATIO_TARGET else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
