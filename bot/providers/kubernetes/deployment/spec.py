"""The ``kubernetes`` strategy's spec: a Deployment rolled back to an earlier ReplicaSet's template."""

from __future__ import annotations

from typing import Any

from bot.providers.kubernetes import rbac
from bot.providers.kubernetes.locator import ROLLOUT_STATUS, api_client, from_service
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    # Imported when first needed: the kubernetes client costs start-up time a report does not need.
    from bot.providers.kubernetes.deployment.strategy import KubernetesUndo

    return KubernetesUndo(api_client(ctx))


def _workloads(workload: str, options: Any) -> tuple[tuple[str, str], ...]:
    return (("deployments", workload),)


SPEC = StrategySpec(
    name="kubernetes",
    provider="kubernetes",
    build=_build,
    workloads=_workloads,
    rbac=(*rbac.RUN, *rbac.DEPLOYMENT),
    locate=from_service,
    check_by_hand=ROLLOUT_STATUS,
    env_only=True,
    rank=0,
    description="Deployment rollout undo",
)
