"""A kubeconfig that points kubectl and the kubernetes client at the simulator."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_kubeconfig(
    path: str | Path, server_url: str, namespace: str = "default", others: dict[str, str] | None = None
) -> Path:
    """Cluster + user + context over plain http with a dummy token (the simulator does no authentication);
    ``others``: more clusters, context name -> server URL (the current context stays ``sandbox``)."""
    path = Path(path)
    servers = {"sandbox": server_url, **(others or {})}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "sandbox",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": url}} for name, url in servers.items()],
        "users": [{"name": "sandbox", "user": {"token": "sandbox-token"}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": "sandbox", "namespace": namespace}} for name in servers
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
