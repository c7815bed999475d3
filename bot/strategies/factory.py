"""Which class runs which catalog ``strategy:``, connected to the cluster on first use."""

from __future__ import annotations

from bot.strategies.base import RollbackError, Strategy


def strategy_classes() -> dict[str, type]:
    # Imported when first needed: the kubernetes client costs start-up time a report does not need.
    from bot.strategies.blue_green import BlueGreenSwitch
    from bot.strategies.canary import CanaryStepDown
    from bot.strategies.kubernetes import KubernetesUndo

    return {"kubernetes": KubernetesUndo, "blue-green": BlueGreenSwitch, "canary": CanaryStepDown}


def kubernetes_strategy(name: str, kubeconfig: str | None) -> Strategy:
    """The strategy ``name`` on the cluster named by KUBECONFIG (or in-cluster)."""
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
    return strategy_classes()[name](api_client)
