"""Which strategy runs which catalog ``strategy:``: one factory per available spec of the registry, and the
Kubernetes API client the Kubernetes builders connect with."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from bot.strategies import registry
from bot.strategies.base import RollbackError, Strategy
from bot.strategies.registry import BuildContext


def strategy_factories(ctx: BuildContext) -> dict[str, Callable[[], Strategy]]:
    """Per available strategy, a call that builds it with ``ctx`` (connected when first used)."""
    return {name: partial(spec.build, ctx) for name, spec in registry.specs().items() if spec.build is not None}


def kubernetes_client(kubeconfig: str | None):
    """An API client for the cluster named by KUBECONFIG (or in-cluster)."""
    from kubernetes import config as k8s_config
    from kubernetes.client import ApiClient

    try:
        if kubeconfig:
            api_client = k8s_config.new_client_from_config(config_file=kubeconfig)
        else:
            k8s_config.load_incluster_config()
            api_client = ApiClient()
    except (k8s_config.ConfigException, OSError) as exc:
        raise RollbackError(
            f"Kubernetes is not configured on this bot ({exc}). Set KUBECONFIG, or run the bot in the cluster."
        ) from exc
    return api_client
