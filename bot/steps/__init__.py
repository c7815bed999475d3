"""One function per step name a strategy lists (``Strategy.steps``); the worker runs them in order.

The table is the steps every strategy shares plus each registered strategy's ``extra_steps``, read from the
registry (``bot.strategies.registry``) when a run first looks a step up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from bot.steps.cdn import invalidate_cdn
from bot.steps.context import RunContext
from bot.steps.rollout import pre_checks, rollback, verify_step, wait_for_rollout
from bot.steps.safety import backup, suspend_sync
from bot.strategies import registry

Step = Callable[[RunContext, str], None]
COMMON: dict[str, Step] = {
    "pre-checks": pre_checks,
    "backup": backup,
    "suspend sync": suspend_sync,
    "rollback": rollback,
    "wait for rollout": wait_for_rollout,
    "verify": verify_step,
    "invalidate cache": invalidate_cdn,
}


def _resolve(where: str) -> Step:
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


class StepTable(Mapping[str, Step]):
    """The common steps and every registered strategy's own, resolved on each look-up (a strategy registered
    after start is seen; an import is done once by Python)."""

    def _table(self) -> dict[str, str | Step]:
        extra = {name: where for s in registry.specs().values() for name, where in s.extra_steps.items()}
        return {**COMMON, **extra}

    def __getitem__(self, name: str) -> Step:
        found = self._table()[name]
        return _resolve(found) if isinstance(found, str) else found

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


STEPS = StepTable()

__all__ = ["COMMON", "STEPS", "RunContext", "Step", "StepTable"]
