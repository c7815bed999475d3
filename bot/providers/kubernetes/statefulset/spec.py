"""The ``statefulset`` strategy's spec: a StatefulSet rolled back to an earlier ControllerRevision."""

from __future__ import annotations

from typing import Any

from bot.providers.kubernetes import rbac
from bot.providers.kubernetes.locator import api_client, from_service
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    from bot.providers.kubernetes.statefulset.strategy import StatefulSetUndo

    return StatefulSetUndo(api_client(ctx))


def _workloads(workload: str, options: Any) -> tuple[tuple[str, str], ...]:
    return (("statefulsets", workload),)


SPEC = StrategySpec(
    name="statefulset",
    provider="kubernetes",
    build=_build,
    workloads=_workloads,
    rbac=(*rbac.RUN, *rbac.STATEFULSET),
    locate=from_service,
    check_by_hand="`kubectl rollout status statefulset/{workload} -n {namespace}`",
    rank=1,
    description="StatefulSet rollout undo through ControllerRevisions",
)
