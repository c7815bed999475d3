"""The ``config`` strategy's spec: its options, the ConfigMap and Secrets it watches, its emergency actions."""

from __future__ import annotations

from typing import Any

from bot.providers.kubernetes import rbac
from bot.providers.kubernetes.config.options import ConfigRollback
from bot.providers.kubernetes.locator import ROLLOUT_STATUS, api_client, from_service
from bot.strategies.base import RollbackError, Strategy
from bot.strategies.registry import SCALE_TO_ZERO, BuildContext, Emergency, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    from bot.providers.kubernetes.config.strategy import ConfigRestore

    if ctx.versions is None:
        raise RollbackError("the config strategy needs the recorded versions of the bot's database; none was given")
    return ConfigRestore(api_client(ctx), ctx.versions)


def _workloads(workload: str, options: Any) -> tuple[tuple[str, str], ...]:
    return (("deployments", workload),)


def _watches(options: ConfigRollback) -> frozenset[tuple[str, str]]:
    return frozenset({("ConfigMap", options.configmap), *(("Secret", s) for s in options.secrets)})


SPEC = StrategySpec(
    name="config",
    provider="kubernetes",
    build=_build,
    options=ConfigRollback,
    aliases=("config",),
    emergency=Emergency(
        "Restore another version…",
        "restore another recorded version of the ConfigMap (*Restore another version…*)",
        SCALE_TO_ZERO.stop,
        SCALE_TO_ZERO.stop_confirm,
    ),
    workloads=_workloads,
    watches=_watches,
    rbac=(*rbac.RUN, *rbac.CONFIG),
    locate=from_service,
    check_by_hand=ROLLOUT_STATUS,
    restores_config=True,
    rank=4,
    description="restore a recorded ConfigMap version, then rollout restart",
)
