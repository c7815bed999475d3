"""The strategy's own step: every host in turn, each command on the timeline."""

from __future__ import annotations

from bot.steps.context import RunContext, change_text


def host_by_host(ctx: RunContext, name: str) -> None:
    plan = ctx.plan
    if ctx.applied or name in ctx.done:
        ctx.step(name, "done", f"already applied: every host is on {plan.desired.version}")
        return
    moves = [m for m in plan.operations if m["from"] != m["to"]]
    ctx.step(name, "running", f"{len(moves)} host(s) to {plan.desired.version}, one at a time")
    ctx.strategy.roll(plan, ctx.record, ctx.progress(name))
    ctx.applied = True
    ctx.step(name, "done", f"every host is on {plan.desired.version} and back in the load balancer")
    ctx.record(
        "patched",
        f"Rollback applied: {change_text(plan)} on {len(moves)} host(s)",
        from_image=plan.current.image,
        to_image=plan.desired.image,
    )
    ctx.record("rolled_out", f"Rollout of {plan.desired.version} finished on every host")
