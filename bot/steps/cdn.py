"""The step after a successful switch of a service that declares ``cdn:``, whatever its strategy: its
``AfterVerify`` (the CloudFront invalidation, from the runtime), waited for with the catalog's deadline.

The switch is done when this step runs: an invalidation that fails or outlasts its deadline is told loudly on
the step, the timeline and the run's last message, and does not turn a verified rollback into a failed one."""

from __future__ import annotations

from bot.signals.analysis import Outcome
from bot.steps.context import RunContext
from bot.strategies.base import RollbackError


def invalidate_cdn(ctx: RunContext, name: str) -> None:
    if name in ctx.done:
        return
    if ctx.outcome == Outcome.FAILED.value:
        ctx.step(
            name,
            "skipped",
            "not invalidated: the rollback was not verified healthy; invalidate after the next rollback",
        )
        return
    chosen = ctx.env.after_verify(ctx.service)
    if not chosen:
        ctx.step(name, "skipped", "no cdn declared for this service")
        return
    for after in chosen:
        ctx.step(name, "running", f"{after.title}: starting")
        try:
            detail = after.after_verify(
                ctx.plan, f"rollback-bot-{ctx.incident.key}-run-{ctx.run.id}", ctx.progress(name)
            )
        except RollbackError as failed:
            ctx.step(name, "failed", str(failed)[:500])
            ctx.record("cdn_invalidation_failed", str(failed))
            ctx.outcome_text += f"\n:warning: *{after.title} did not complete:* {failed}"
            continue
        ctx.step(name, "done", detail)
        ctx.record("cdn_invalidated", detail)
        ctx.outcome_text += f"\n:globe_with_meridians: {detail}."
