"""Which class runs which catalog ``strategy:``, connected to the cluster on first use."""

from __future__ import annotations

from bot.state.config_versions import PLAIN, Fingerprints
from bot.state.db import Database
from bot.strategies.base import RollbackError, Strategy


def strategy_classes() -> dict[str, type]:
    # Imported when first needed: the kubernetes client costs start-up time a report does not need.
    from bot.strategies.blue_green import BlueGreenSwitch
    from bot.strategies.canary import CanaryStepDown
    from bot.strategies.config import ConfigRestore
    from bot.strategies.kubernetes import KubernetesUndo
    from bot.strategies.statefulset import StatefulSetUndo

    return {
        "kubernetes": KubernetesUndo,
        "statefulset": StatefulSetUndo,
        "blue-green": BlueGreenSwitch,
        "canary": CanaryStepDown,
        "config": ConfigRestore,
    }


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


def kubernetes_strategy(
    name: str, kubeconfig: str | None, db: Database | None = None, prints: Fingerprints = PLAIN
) -> Strategy:
    """The strategy ``name`` on the cluster named by KUBECONFIG (or in-cluster); ``config`` reads its versions
    from ``db``, a Secret's fingerprinted with ``prints``."""
    api_client = kubernetes_client(kubeconfig)
    if name == "config":
        return strategy_classes()[name](api_client, db, prints=prints)
    return strategy_classes()[name](api_client)
