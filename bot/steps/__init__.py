"""One function per step name a strategy lists (``Strategy.steps``); the worker runs them in order."""

from __future__ import annotations

from collections.abc import Callable

from bot.steps.context import RunContext
from bot.steps.rollout import pre_checks, rollback, verify_step, wait_for_rollout
from bot.steps.safety import backup, suspend_sync
from bot.steps.traffic import after_switch, prepare, remove_canary, step_down

STEPS: dict[str, Callable[[RunContext, str], None]] = {
    "pre-checks": pre_checks,
    "backup": backup,
    "suspend sync": suspend_sync,
    "rollback": rollback,
    "wait for rollout": wait_for_rollout,
    "verify": verify_step,
    # blue-green
    "prepare": prepare,
    "switch traffic": rollback,
    "wait for traffic": wait_for_rollout,
    "after switch": after_switch,
    # canary
    "step down": step_down,
    "remove canary": remove_canary,
}

__all__ = ["STEPS", "RunContext"]
