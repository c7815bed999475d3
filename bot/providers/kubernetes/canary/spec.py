"""The ``canary`` strategy's spec: its options, its steps, its emergency action."""

from __future__ import annotations

from bot.providers.kubernetes import rbac
from bot.providers.kubernetes.canary.options import Canary
from bot.providers.kubernetes.locator import ROLLOUT_STATUS, api_client, from_service
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, Emergency, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    from bot.providers.kubernetes.canary.strategy import CanaryStepDown

    return CanaryStepDown(api_client(ctx))


def _workloads(workload: str, options: Canary) -> tuple[tuple[str, str], ...]:
    return (("deployments", options.stable), ("deployments", options.canary))


SPEC = StrategySpec(
    name="canary",
    provider="kubernetes",
    build=_build,
    options=Canary,
    aliases=("canary",),
    steps=("pre-checks", "backup", "suspend sync", "step down", "verify", "remove canary"),
    extra_steps={"step down": "bot.steps.traffic:step_down", "remove canary": "bot.steps.traffic:remove_canary"},
    emergency=Emergency(
        None,
        "",
        "All traffic to stable now",
        "The canary of *{service}* gets 0% of the traffic and is scaled to zero at once, without steps.",
    ),
    workloads=_workloads,
    rbac=(*rbac.RUN, *rbac.TRAFFIC_DEPLOYMENTS, *rbac.VIRTUAL_SERVICES),
    locate=from_service,
    check_by_hand=ROLLOUT_STATUS,
    rank=3,
    description="step the canary's traffic down to 0",
)
