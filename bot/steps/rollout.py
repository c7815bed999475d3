"""The steps every strategy shares: pre-checks, the change, the wait, the verification."""

from __future__ import annotations

import dataclasses

from bot.config import duration_seconds
from bot.incidents import cards
from bot.signals.analysis import Outcome
from bot.signals.verification import verify
from bot.slack import views
from bot.steps.context import RunContext, change_text
from bot.strategies import registry
from bot.strategies.base import Plan, RollbackError, Target, planned


def pre_checks(ctx: RunContext, name: str) -> None:
    """The workload is as the user saw it (or already rolled back, when resuming), and so is what the change
    moves to: the run carries out what was confirmed, or nothing."""
    ctx.step(name, "running", "checking the target revision and the live state")
    confirmed, desired = ctx.confirmed, ctx.confirmed.desired
    if ctx.run.attempts > 1 and ctx.strategy.is_applied(confirmed):
        history = ctx.strategy.history(confirmed.target)
        ctx.plan = dataclasses.replace(confirmed, desired=history[-1] if history else desired)
        ctx.applied = True
    else:
        fresh = planned(ctx.strategy, Target(**{**vars(confirmed.target), "to_revision": desired.number}))
        if (fresh.current.number, fresh.current.image) != (confirmed.current.number, confirmed.current.image):
            what = confirmed.target.locator.get("workload") or confirmed.target.service
            raise RollbackError(
                f"{what} changed after the plan was confirmed: it is now at revision "
                f"{fresh.current.number} ({fresh.current.version}), not {confirmed.current.number} "
                f"({confirmed.current.version}). Nothing was rolled back. Review the new state and plan again."
            )
        if changed := target_change(confirmed, fresh):
            raise RollbackError(
                f"{changed}. Nothing was changed: the run carries out only what was confirmed. "
                "Check who changed it and why, then plan the rollback again."
            )
        ctx.plan, ctx.applied = fresh, bool(fresh.skipped)
    found = getattr(ctx.strategy, "pre_check_detail", "") or (
        f"{ctx.plan.desired.title} ({ctx.plan.desired.version}) is there"
    )
    ctx.step(name, "done", "; ".join(ctx.plan.warnings) or found)


def target_change(confirmed: Plan, fresh: Plan) -> str:
    """What changed in what the plan moves to since it was made, in words ("" when nothing did, or when the
    confirmed plan pinned nothing)."""
    before, now = confirmed.target_print, fresh.target_print
    if not before or before == now:
        return ""
    rev = confirmed.desired
    what = f"{rev.title} ({rev.name})" if rev.name and rev.name != rev.title else rev.title
    what = f"{what}, what the rollback moves to,"
    if not now:
        return f"{what} is gone since the plan was confirmed"
    old, new = before.get("images") or {}, now.get("images") or {}
    images = [
        f"{c or 'its container'}: {old.get(c) or 'none'} → {new.get(c) or 'none'}"
        for c in sorted(set(old) | set(new))
        if old.get(c) != new.get(c)
    ]
    if images:
        return f"{what} changed after the plan was confirmed: image {'; '.join(images)}"
    return (
        f"{what} changed after the plan was confirmed: its pod template is not the one confirmed (env, resources "
        f"or another field; the image is still {', '.join(sorted(set(new.values()))) or 'unknown'})"
    )


def rollback(ctx: RunContext, name: str) -> None:
    """The change itself, exactly once."""
    plan = ctx.plan
    if ctx.applied or name in ctx.done:
        ctx.step(name, "done", f"already applied: {plan.desired.version} is live")
        return
    ctx.step(name, "running", plan.summary or f"patching to revision {plan.desired.number}")
    ctx.strategy.apply(plan)
    ctx.step(name, "done", f"patch accepted: {change_text(plan)}")
    ctx.record(
        "patched",
        f"Rollback applied: {change_text(plan)}",
        from_image=plan.current.image,
        to_image=plan.desired.image,
    )


def wait_for_rollout(ctx: RunContext, name: str) -> None:
    """By the rules of ``kubectl rollout status`` (or, for a traffic switch, until the endpoints moved), with the
    deadline from the settings."""
    plan = ctx.plan
    ctx.step(name, "running", "waiting for the new pods" if plan.desired.label == "" else "waiting for traffic to move")
    target = dataclasses.replace(plan.target, to_revision=plan.desired.number)
    ctx.strategy.wait(target, ctx.progress(name), ctx.deadline_seconds)
    if plan.desired.label:
        ctx.step(name, "done", f"traffic is on {plan.desired.title} ({plan.desired.version})")
        ctx.record("rolled_out", f"Traffic is on {plan.desired.title} ({plan.desired.version})")
    else:
        ctx.step(name, "done", f"{plan.desired.version} rolled out")
        ctx.record("rolled_out", f"Rollout of {plan.desired.version} finished")


def verify_step(ctx: RunContext, name: str) -> None:
    """An analysis of the traffic served since the rollout completed (``bot.signals.analysis``)."""
    plan, service = ctx.plan, ctx.service
    a = service.analysis
    ctx.step(name, "running", f"verifying: a check every {a.interval} for {a.bake}")
    result = verify(
        ctx.strategy,
        plan,
        service,
        ctx.env.metrics,
        duration_seconds(ctx.env.settings.prometheus_scrape_interval),
        progress=lambda line: ctx.step(name, "running", line),
    )
    outcome, version = result.outcome, plan.desired.version
    if plan.target.env_only:
        version += f" with the env of revision {plan.desired.number} (image kept)"
    ctx.record(
        outcome.value, f"{outcome.title}: {result.reason}", checks=cards.verification_to_json(result.verification)
    )
    ctx.step(name, "done" if outcome is Outcome.VERIFIED else "failed", result.reason)
    ctx.outcome = outcome.value  # the run's status has the same word as the event
    if outcome is Outcome.VERIFIED:
        ctx.outcome_text = (
            f":white_check_mark: *{service.name} is back on {version}* and verified: {result.reason} "
            "(pods ready, health URL UP, 5xx rate and p95 latency under thresholds).\n"
            "*Next:* keep an eye on it; when you are ready, type `/rollback resolve` here to write the postmortem."
        )
        ctx.outcome_blocks = views.verification_blocks(result.verification)
    elif outcome is Outcome.FAILED:
        ctx.outcome_text = (
            f":rotating_light: *The rollback of {service.name} to {version} "
            "went out, but the service is NOT healthy.* What failed is below. *What you can do:* on the "
            f"incident card, {views.emergency_hint(ctx.strategy.name, True)}"
        )
        ctx.outcome_blocks = views.verification_blocks(result.verification)
    else:
        ctx.outcome_text, ctx.outcome_blocks = views.could_not_verify_message(
            service.name,
            registry.check_by_hand(service.strategy, ctx.plan.target.locator),
            service.health_url,
            version,
            result.reason,
            result.verification,
        )
