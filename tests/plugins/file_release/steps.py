"""The strategy's own step: the release rolled back to is complete before anything points at it."""

from __future__ import annotations

from bot.steps.context import RunContext


def check_release_files(ctx: RunContext, name: str) -> None:
    ctx.step(name, "running", f"checking the files of {ctx.plan.desired.name}")
    ctx.step(name, "done", ctx.strategy.check_files(ctx.plan))
