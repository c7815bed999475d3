"""The ``blue-green`` strategy's spec: its options, its steps, its emergency actions."""

from __future__ import annotations

from bot.providers.kubernetes import rbac
from bot.providers.kubernetes.blue_green.options import BlueGreen
from bot.providers.kubernetes.locator import ROLLOUT_STATUS, api_client, from_service
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, Emergency, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    from bot.providers.kubernetes.blue_green.strategy import BlueGreenSwitch

    return BlueGreenSwitch(api_client(ctx))


def _workloads(workload: str, options: BlueGreen) -> tuple[tuple[str, str], ...]:
    return tuple(("deployments", d) for d in sorted(options.colours.values()))


SPEC = StrategySpec(
    name="blue-green",
    provider="kubernetes",
    build=_build,
    options=BlueGreen,
    aliases=("blue_green",),
    steps=(
        "pre-checks",
        "backup",
        "suspend sync",
        "prepare",
        "switch traffic",
        "wait for traffic",
        "verify",
        "after switch",
    ),
    extra_steps={
        "prepare": "bot.steps.traffic:prepare",
        "switch traffic": "bot.steps.rollout:rollback",
        "wait for traffic": "bot.steps.rollout:wait_for_rollout",
        "after switch": "bot.steps.traffic:after_switch",
    },
    emergency=Emergency(
        "Switch to another colour…",
        "switch the traffic to the other colour (*Switch to another colour…*)",
        "Scale live colour to zero",
        "The colour that serves *{service}* now stops: the service is DOWN until someone scales it back up.",
        finish_step="Switch traffic",
    ),
    workloads=_workloads,
    rbac=(*rbac.RUN, *rbac.TRAFFIC_DEPLOYMENTS, *rbac.SERVICE_SELECTOR, *rbac.VIRTUAL_SERVICES),
    locate=from_service,
    check_by_hand=ROLLOUT_STATUS,
    rank=2,
    description="switch the Service's selector back to the other colour",
)
