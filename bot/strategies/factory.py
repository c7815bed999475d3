"""Which strategy runs which catalog ``strategy:``: one factory per available spec of the registry, each
connecting through the runtime's clients (``BuildContext.clients``) to the cluster it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from bot.strategies import registry
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, StrategySpec

Factory = Callable[[str | None], Strategy]  # cluster (a kubeconfig context; None: the current one) -> strategy


def _build(spec: StrategySpec, ctx: BuildContext, cluster: str | None = None) -> Strategy:
    return spec.build(replace(ctx, cluster=cluster))  # type: ignore[misc] - only specs with a builder get here


def strategy_factories(ctx: BuildContext) -> dict[str, Factory]:
    """Per available strategy, a call that builds it with ``ctx`` for a cluster (connected when first used)."""
    return {name: partial(_build, spec, ctx) for name, spec in registry.specs().items() if spec.build is not None}
