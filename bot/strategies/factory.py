"""Which strategy runs which catalog ``strategy:``: one factory per available spec of the registry, each
connecting through the runtime's clients (``BuildContext.clients``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from bot.strategies import registry
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext


def strategy_factories(ctx: BuildContext) -> dict[str, Callable[[], Strategy]]:
    """Per available strategy, a call that builds it with ``ctx`` (connected when first used)."""
    return {name: partial(spec.build, ctx) for name, spec in registry.specs().items() if spec.build is not None}

