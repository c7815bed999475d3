"""The worker: claims durable rollback runs and carries them out step by step; sends reminders.

A run is claimed with a lease and kept alive by a heartbeat; if this process dies,
another worker claims the run once the lease expires and resumes it from its recorded
steps (a change that was already applied is not sent twice). Every write of a run names
this worker: once the lease is lost (another worker took over, or the heartbeat failed),
nothing more is written. The steps come from the strategy; each has one function here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot.config import ServiceConfig, duration_seconds
from bot.incidents import cards, comms
from bot.incidents.common import target
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.signals.analysis import Outcome
from bot.signals.verification import verify
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.state import runs
from bot.state.models import Incident, RollbackRun
from bot.state.runs import LeaseLost
from bot.strategies.base import Plan, Progress, RollbackError, Strategy, Target, plan_from_json

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """One run in the hands of one worker: what was confirmed, and what the steps found so far."""

    worker: Worker
    run: RollbackRun
    incident: Incident
    service: ServiceConfig
    strategy: Strategy
    confirmed: Plan
    lost: threading.Event
    plan: Plan | None = None
    applied: bool = False
    outcome: str = ""  # the run's final status, set by the last step
    outcome_text: str = ""
    outcome_blocks: list[dict] | None = None
    done: set[str] = field(default_factory=set)

    def step(self, name: str, status: str, detail: str) -> None:
        """Record a step's state under this worker's lease; a lost lease stops the run here."""
        if self.lost.is_set():
            raise LeaseLost(f"run {self.run.id}: lease lost")
        runs.step(self.worker.rt.db, self.run.id, name, status, detail, worker_id=self.worker.id)
        cards.refresh(self.worker.rt, self.incident.id, throttle=status == "running")

    def record(self, kind: str, text: str, **data) -> None:
        record(self.worker.rt, self.incident.id, kind, text, data=data or None)


# --------------------------------------------------------------------------------- steps


def pre_checks(ctx: RunContext, name: str) -> None:
    """The workload is as the user saw it (or already rolled back, when resuming)."""
    ctx.step(name, "running", "checking the target revision and the live state")
    confirmed, desired = ctx.confirmed, ctx.confirmed.desired
    if ctx.run.attempts > 1 and ctx.strategy.is_applied(confirmed):
        history = ctx.strategy.history(confirmed.target)
        ctx.plan = dataclasses.replace(confirmed, desired=history[-1] if history else desired)
        ctx.applied = True
    else:
        fresh = ctx.strategy.plan(Target(**{**vars(confirmed.target), "to_revision": desired.number}))
        if (fresh.current.number, fresh.current.image) != (confirmed.current.number, confirmed.current.image):
            raise RollbackError(
                f"{confirmed.target.workload} changed after the plan was confirmed: it is now at revision "
                f"{fresh.current.number} ({fresh.current.version}), not {confirmed.current.number} "
                f"({confirmed.current.version}). Nothing was rolled back. Review the new state and plan again."
            )
        ctx.plan, ctx.applied = fresh, bool(fresh.skipped)
    ctx.step(name, "done", "; ".join(ctx.plan.warnings) or "target exists, deployment not paused")


def backup(ctx: RunContext, name: str) -> None:
    """A database snapshot, only for services that declare migrations."""
    if name in ctx.done:
        return
    detail = (
        "no database snapshot needed (no migrations declared)"
        if not ctx.service.db_migrations
        else "no snapshot target configured for this service"
    )
    ctx.step(name, "skipped", detail)


def rollback(ctx: RunContext, name: str) -> None:
    """The change itself, exactly once."""
    plan = ctx.plan
    if ctx.applied or name in ctx.done:
        ctx.step(name, "done", f"already applied: {plan.desired.version} is live")
        return
    ctx.step(name, "running", f"patching to revision {plan.desired.number}")
    ctx.strategy.apply(plan)
    ctx.step(name, "done", f"patch accepted: {plan.current.version} -> {plan.desired.version}")
    ctx.record(
        "patched",
        f"Rollback applied: {plan.current.version} -> {plan.desired.version}",
        from_image=plan.current.image,
        to_image=plan.desired.image,
    )


def wait_for_rollout(ctx: RunContext, name: str) -> None:
    """By the rules of ``kubectl rollout status``, with the deadline from the settings."""
    ctx.step(name, "running", "waiting for the new pods")
    seen: set[str] = set()

    def progress(p: Progress) -> None:
        ctx.step(name, "running", p.message)
        if p.message not in seen:
            seen.add(p.message)
            ctx.record("progress", p.message, desired=p.desired, updated=p.updated, available=p.available)

    ctx.strategy.wait(ctx.plan.target, progress, ctx.worker.rt.settings.rollback_deadline_seconds)
    ctx.step(name, "done", f"{ctx.plan.desired.version} rolled out")
    ctx.record("rolled_out", f"Rollout of {ctx.plan.desired.version} finished")


def verify_step(ctx: RunContext, name: str) -> None:
    """An analysis of the traffic served since the rollout completed (``bot.signals.analysis``)."""
    rt, plan, service = ctx.worker.rt, ctx.plan, ctx.service
    a = service.analysis
    ctx.step(name, "running", f"verifying: a check every {a.interval} for {a.bake}")
    result = verify(
        ctx.strategy,
        plan,
        service,
        rt.metrics,
        duration_seconds(rt.settings.prometheus_scrape_interval),
        progress=lambda line: ctx.step(name, "running", line),
    )
    outcome, version = result.outcome, plan.desired.version
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
            "incident card, *Choose another revision…*, *Scale to zero*, or *Page escalation*."
        )
        ctx.outcome_blocks = views.verification_blocks(result.verification)
    else:
        ctx.outcome_text, ctx.outcome_blocks = views.could_not_verify_message(
            service.name,
            service.namespace,
            service.deployment,
            service.health_url,
            version,
            result.reason,
            result.verification,
        )


STEPS: dict[str, Callable[[RunContext, str], None]] = {
    "pre-checks": pre_checks,
    "backup": backup,
    "rollback": rollback,
    "wait for rollout": wait_for_rollout,
    "verify": verify_step,
}


# -------------------------------------------------------------------------------- worker


class Worker:
    def __init__(
        self,
        rt: Runtime,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        max_parallel: int = 4,
        pending_minutes: float = 10.0,
    ) -> None:
        self.rt = rt
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.pending_for = dt.timedelta(minutes=pending_minutes)
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="run")
        self._slots = threading.Semaphore(max_parallel)
        self._stop = threading.Event()
        self._last_reminder_check = 0.0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------ loop

    def start_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run_forever, name="worker", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Finish the runs in hand (they are durable: a run cut short is resumed elsewhere), then stop."""
        self._stop.set()
        self.rt.wake_worker.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)

    def run_forever(self) -> None:
        log.info("worker %s started", self.id)
        while not self._stop.is_set():
            try:
                self.sweep()
                claimed = self.claim_and_start()
                self.remind_if_due()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker loop")
                claimed = False
            if not claimed:
                self.rt.wake_worker.wait(self.poll_seconds)
                self.rt.wake_worker.clear()

    def claim_and_start(self) -> bool:
        if not self._slots.acquire(blocking=False):
            return False
        run = runs.claim(self.rt.db, self.id, self.lease_seconds)
        if run is None:
            self._slots.release()
            return False
        self._pool.submit(self._execute_and_release, run)
        return True

    def _execute_and_release(self, run: RollbackRun) -> None:
        try:
            self.execute(run)
        finally:
            self._slots.release()

    def sweep(self) -> None:
        """Runs that must not start: cancelled (incident closed) or expired (nobody started them); say so."""
        for run in runs.sweep(self.rt.db, self.pending_for):
            incident = self.rt.db.transaction(lambda s, i=run.incident_id: s.get(Incident, i))
            record(self.rt, incident.id, "rollback_" + run.status, f"Rollback {run.status}: {run.error}")
            if run.status == "expired":
                self._say(
                    incident,
                    f":hourglass: *The rollback of {run.service} did not start:* {views.escape(run.error)}. "
                    "Nothing was changed. Check that a worker is running (`rollback-bot worker`), then roll "
                    "back again from the incident card.",
                )
            cards.refresh(self.rt, incident.id)

    # ------------------------------------------------------------------------ a run

    def execute(self, run: RollbackRun) -> None:
        rt = self.rt
        incident = rt.db.transaction(lambda s: s.get(Incident, run.incident_id))
        lost = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(run.id, lost), daemon=True)
        beat.start()
        try:
            service = rt.catalog.get(run.service)
            if service is None:
                raise RollbackError(f"{run.service} is no longer in the services catalog")
            ctx = RunContext(
                worker=self,
                run=run,
                incident=incident,
                service=service,
                strategy=rt.strategy_for(service),
                confirmed=plan_from_json(run.plan),
                lost=lost,
                done={s.name for s in run.steps if s.status in ("done", "skipped")},
            )
            if run.attempts == 1:
                ctx.record("rollback_started", f"Rollback started by worker {self.id}", run_id=run.id)
            else:
                ctx.record(
                    "rollback_resumed", f"Rollback resumed by worker {self.id} (attempt {run.attempts})", run_id=run.id
                )
            for step in run.steps:
                STEPS[step.name](ctx, step.name)
            self._finish(ctx)
        except LeaseLost:
            log.warning("run %s: this worker lost its lease; it writes nothing more", run.id)
        except Exception as exc:  # every failure is reported to the channel and recorded
            self._fail(run, incident, exc, lost)
        finally:
            lost.set()
            beat.join(timeout=5)

    def _heartbeat(self, run_id: int, lost: threading.Event) -> None:
        while not lost.wait(self.lease_seconds / 3):
            try:
                if not runs.heartbeat(self.rt.db, run_id, self.id, self.lease_seconds):
                    lost.set()
            except Exception:  # cannot renew: another worker may take the run soon, so stop writing now
                log.exception("heartbeat of run %s failed; giving the run up", run_id)
                lost.set()

    def _finish(self, ctx: RunContext) -> None:
        if not runs.finish(self.rt.db, ctx.run.id, ctx.outcome, worker_id=self.id):
            raise LeaseLost(f"run {ctx.run.id}")
        self._reread(ctx.incident, ctx.service, ctx.strategy)
        self._say(ctx.incident, ctx.outcome_text, ctx.outcome_blocks)
        cards.refresh(self.rt, ctx.incident.id)

    def _reread(self, incident: Incident, service: ServiceConfig, strategy: Strategy) -> None:
        """After a rollback the card's "Live now" and revision list come from the cluster again."""
        try:
            cards.store_revisions(self.rt, incident.id, strategy.history(target(service)))
        except RollbackError as exc:
            record(self.rt, incident.id, "note", f"Could not re-read the rollout history: {exc}")

    def _fail(self, run: RollbackRun, incident: Incident, exc: Exception, lost: threading.Event) -> None:
        rt = self.rt
        message = str(exc) if isinstance(exc, RollbackError) else f"unexpected error: {exc!r}"
        log.warning("run %s failed: %s", run.id, message, exc_info=not isinstance(exc, RollbackError))
        if lost.is_set():
            return
        failed_step = next((s.name for s in runs.get_run(rt.db, run.id).steps if s.status == "running"), None)
        try:
            if failed_step:
                runs.step(rt.db, run.id, failed_step, "failed", message[:500], worker_id=self.id)
            if not runs.finish(rt.db, run.id, "failed", error=message, worker_id=self.id):
                return
        except LeaseLost:
            return
        record(
            rt,
            incident.id,
            "rollback_failed",
            f"Rollback failed{f' at {failed_step}' if failed_step else ''}: {message}",
            data={"run_id": run.id, "step": failed_step},
        )
        service = rt.catalog.get(run.service)
        if service is not None:
            self._reread(incident, service, rt.strategy_for(service))
        escalation = " or *Page escalation*" if service and service.escalation else ""
        self._say(
            incident,
            f":rotating_light: *The rollback of {run.service} FAILED"
            f"{f' at {failed_step}' if failed_step else ''}.*\n{views.escape(message)}\n*What you can do:* on the "
            f"incident card, *Choose another revision…*, *Scale to zero*{escalation}.",
        )
        cards.refresh(rt, incident.id)

    def _say(self, incident: Incident, text: str, blocks: list[dict] | None = None) -> None:
        if blocks is not None:
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}, *blocks]
        try:
            self.rt.slack.post(incident.channel_id, text, blocks)
        except SlackFailure as exc:
            log.error("could not tell %s: %s", incident.channel_id, exc)

    # ------------------------------------------------------------------ reminders

    def remind_if_due(self, now: dt.datetime | None = None) -> int:
        """Reminders to the leads (at most every 30 s of this loop; ``now`` forces a check)."""
        if now is None and time.monotonic() - self._last_reminder_check < 30:
            return 0
        self._last_reminder_check = time.monotonic()
        return comms.remind_due(self.rt, now)
