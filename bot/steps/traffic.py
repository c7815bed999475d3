"""The steps of the traffic strategies: make the idle colour ready, step a canary down, and what happens
to the bad release once traffic has left it."""

from __future__ import annotations

import time

from bot.config import duration_seconds
from bot.signals.analysis import Outcome, window
from bot.slack import views
from bot.state import runs
from bot.steps.context import RunContext
from bot.strategies.capabilities import Router, capability, skip_reason

HOLD_POLL_SECONDS = 1.0  # how often a paused or held step-down looks at the buttons


def prepare(ctx: RunContext, name: str) -> None:
    """Blue-green: the colour to switch to is ready (scaled up first if it was scaled down)."""
    if ctx.applied or name in ctx.done:
        ctx.step(name, "done", f"{ctx.plan.desired.name} already serves the traffic")
        return
    ctx.step(name, "running", f"making {ctx.plan.desired.name} ready")
    detail = ctx.strategy.prepare(ctx.plan, ctx.progress(name), ctx.deadline_seconds)
    ctx.step(name, "done", detail)
    ctx.record("prepared", detail)


def after_switch(ctx: RunContext, name: str) -> None:
    """Blue-green: keep, scale down or (with a second person) delete the bad colour, once the good one is verified."""
    if ctx.outcome != Outcome.VERIFIED.value:
        ctx.step(name, "skipped", f"{ctx.plan.current.name} kept as it is: the switch was not verified")
        return
    detail = ctx.strategy.after_switch(ctx.plan)
    ctx.step(name, "done", detail)
    ctx.record("after_switch", detail)
    if "second person" in detail:
        ctx.outcome_text += (
            f"\n*{ctx.plan.current.name}* is kept until a second person with rollback rights (not who asked "
            "for, confirmed or approved this rollback) deletes it with the button below; the bot checks then that "
            "it still gets no traffic (the catalog says `after_switch: delete`)."
        )
        button = views.delete_release_actions(ctx.incident.key, ctx.run.id, ctx.plan.current.name)
        ctx.outcome_blocks = [*(ctx.outcome_blocks or []), button]


def remove_canary(ctx: RunContext, name: str) -> None:
    """Canary: at 0 % the canary is scaled to zero, or deleted (only once the stable is verified)."""
    detail = ctx.strategy.remove_canary(ctx.plan, verified=ctx.outcome == Outcome.VERIFIED.value)
    ctx.step(name, "done", detail)
    ctx.record("canary_removed", detail)


class _Steering:
    """What the people on the card ask of a step-down: hold, resume, go to 0 now (``runs.set_control``)."""

    def __init__(self, ctx: RunContext, name: str) -> None:
        self.ctx, self.name = ctx, name
        self.seen: tuple[str | None, str | None] = (None, None)

    def read(self) -> str | None:
        control, by = runs.control_of(self.ctx.env.db, self.ctx.run.id)
        if (control, by) != self.seen and control:
            self.seen = (control, by)
            leaving = _tracks(self.ctx.plan)[0]
            what = {"hold": "held the step-down", "resume": "resumed the step-down"}
            what["zero"] = f"sent the {leaving} to 0%"
            self.ctx.record("canary_" + control, f"<@{by}> {what.get(control, control)}", by=by)
        return control

    def pause(self, seconds: float, weight: int) -> bool:
        """Wait ``seconds`` at ``weight`` (longer while held); True when someone asked for 0 % now."""
        end = time.monotonic() + seconds
        while True:
            control = self.read()
            if control == "zero":
                return True
            if control == "hold":
                self.ctx.step(self.name, "running", f"held at {weight}% by <@{self.seen[1]}>")
                end = time.monotonic() + seconds  # after a resume, a whole pause at this weight again
            elif time.monotonic() >= end:
                return False
            time.sleep(min(HOLD_POLL_SECONDS, max(0.0, end - time.monotonic())) or HOLD_POLL_SECONDS / 10)


def _tracks(plan) -> tuple[str, str]:
    """How the step-down names what it leaves and where traffic goes: the plan's labels ("canary", "stable"; an
    ALB's target groups)."""
    return plan.current.label or "canary", plan.desired.label or "stable"


def step_down(ctx: RunContext, name: str) -> None:
    """Canary, ALB weights: the weight down step by step (or at once); at each, a pause and a reading of the 5xx
    rate and p95."""
    plan, strategy, service = ctx.plan, ctx.strategy, ctx.service
    leaving, back = _tracks(plan)
    if ctx.applied or name in ctx.done:
        ctx.step(name, "done", f"the {leaving} already gets no traffic")
        return
    router = capability(strategy, Router)
    if router is None:
        ctx.step(name, "skipped", skip_reason(strategy, name))
        return
    steps, step_pause = router.schedule(plan.target)
    pause = duration_seconds(step_pause or service.analysis.interval)
    scrape = duration_seconds(ctx.env.settings.prometheus_scrape_interval)
    weight = router.weight(plan.target)
    steering = _Steering(ctx, name)
    last_5xx: float | None = None
    for to in [w for w in steps if w < weight] or [0]:
        if steering.read() == "zero":
            to = 0
        ctx.step(name, "running", f"{leaving} {weight}% → {to}%")
        router.set_weight(plan.target, to)
        router.settle(plan.target, ctx.progress(name), ctx.deadline_seconds)
        weight = to
        if to == 0:
            ctx.record("canary_step", f"{_cap(leaving)} at 0% of traffic: all traffic is on the {back} release",
                       weight=0)
            break
        if steering.pause(pause, weight):
            continue  # the next turn goes to 0
        reading = _reading(ctx, window(pause, scrape) or f"{int(pause)}s")
        ctx.step(name, "running", f"{leaving} at {weight}%: {reading.text}")
        ctx.record("canary_step", f"{_cap(leaving)} at {weight}% of traffic: {reading.text}", weight=weight,
                   **reading.data)
        rate = reading.data.get("http_5xx_rate")
        rising = rate is not None and last_5xx is not None and rate > last_5xx * 1.5
        if rising and rate > service.thresholds.http_5xx_rate:
            runs.set_control(ctx.env.db, ctx.run.id, "hold", "the bot")
            ctx.env.say(
                ctx.incident,
                f":pause_button: *The step-down of {service.name} is held at {weight}%:* the 5xx rate rose from "
                f"{last_5xx:.1%} to {rate:.1%} as traffic moved to the stable release, which may be failing too. "
                "*What you can do:* on the incident card, *Resume* the step-down or *Go to 0 now*.",
            )
            steering.pause(pause, weight)
        last_5xx = rate if rate is not None else last_5xx
    ctx.step(name, "done", f"{leaving} at 0%: all traffic on the {back} release")
    ctx.record("rolled_out", f"All traffic is on the {back} release ({plan.desired.version})")


def _cap(words: str) -> str:
    return words[:1].upper() + words[1:]


class _Reading:
    def __init__(self, data: dict[str, float | None]) -> None:
        self.data = data
        rate, p95 = data.get("http_5xx_rate"), data.get("latency_p95")
        self.text = (
            f"5xx {'unavailable' if rate is None else f'{rate:.1%}'} · "
            f"p95 {'unavailable' if p95 is None else f'{p95:.2f} s'}"
        )


def _reading(ctx: RunContext, since: str) -> _Reading:
    """The 5xx rate and p95 over the pause just spent at this weight (unavailable, never healthy, when unread)."""
    metrics = ctx.env.metrics
    return _Reading({s: metrics.read_one(ctx.service, s, since).value for s in ("http_5xx_rate", "latency_p95")})
