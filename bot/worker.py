"""The worker: claims durable rollback runs and carries them out step by step; runs the periodic jobs.

A run is claimed with a lease and kept alive by a heartbeat; if this process dies,
another worker claims the run once the lease expires and resumes it from its recorded
steps (a change that was already applied is not sent twice). Every write of a run names
this worker: once the lease is lost (another worker took over, or the heartbeat failed),
nothing more is written. The steps come from the strategy; each has one function here.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from bot import logs, telemetry
from bot.config import ServiceConfig
from bot.incidents import cards
from bot.incidents.common import target
from bot.incidents.events import record
from bot.incidents.sync import sync_note
from bot.jobs import Schedule, worker_jobs
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.state import runs, workers
from bot.state.models import Incident, RollbackRun
from bot.state.runs import LeaseLost
from bot.steps import STEPS, RunContext
from bot.steps.context import RunEnvironment
from bot.strategies.base import RollbackError, Strategy, plan_from_json

log = logging.getLogger(__name__)


# -------------------------------------------------------------------------------- worker


class Worker:
    def __init__(
        self,
        rt: Runtime,
        worker_id: str | None = None,
        lease_seconds: float = runs.LEASE_SECONDS,
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
        self._thread: threading.Thread | None = None
        self.renewals = telemetry.Renewals(lease_seconds)  # the lease lag of /metrics

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
        try:
            workers.leave(self.rt.db, self.id)
        except Exception:  # its row grows old instead: readiness notices within a lease
            log.exception("could not remove worker %s's heartbeat", self.id)

    def beat(self) -> None:
        """This worker is alive (``GET /readyz`` of every replica reads it)."""
        workers.beat(self.rt.db, self.id, self.lease_seconds)
        self.renewals.renewed("heartbeat")

    def run_forever(self) -> None:
        log.info("worker %s started", self.id)
        schedule = Schedule(worker_jobs(self.rt, self.sweep, self.beat, self.lease_seconds / 3))
        while not self._stop.is_set():
            schedule.run_due()
            try:
                claimed = self.claim_and_start()
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
            with logs.bound(run=run.id):
                self.execute(run)
        finally:
            self._slots.release()
            self.rt.wake_worker.set()  # a slot is free: the next queued run starts now, not at the next poll
            self._refresh_queue()

    def _refresh_queue(self) -> None:
        """The queue moved on: the cards of the runs still waiting say how many they wait behind now."""
        try:
            for incident_id in runs.pending_incidents(self.rt.db):
                cards.refresh(self.rt, incident_id)
        except Exception:  # a card is only a view of the record: the run itself is not affected
            log.exception("refreshing the cards of queued runs")

    def sweep(self) -> None:
        """Runs that must not start: cancelled (incident closed) or expired (no worker ran to start them)."""
        for run in runs.sweep(self.rt.db, self.pending_for, self.lease_seconds):
            incident = self.rt.db.transaction(lambda s, i=run.incident_id: s.get(Incident, i))
            telemetry.run_ended(run.strategy, run.status)
            record(self.rt, incident.id, "rollback_" + run.status, f"Rollback {run.status}: {run.error}")
            if run.status == "expired":
                self.say(
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
        logs.bind(incident=incident.key)
        lost = threading.Event()
        self.renewals.renewed(f"run {run.id}")  # the claim took the lease
        beat = threading.Thread(
            target=contextvars.copy_context().run, args=(self._heartbeat, run.id, lost), daemon=True
        )
        beat.start()
        try:
            service = rt.catalog.get(run.service)
            if service is None:
                raise RollbackError(f"{run.service} is no longer in the services catalog")
            ctx = RunContext(
                env=RunEnvironment.of(rt, self.id, self.say),
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
            self.renewals.released(f"run {run.id}")

    def _heartbeat(self, run_id: int, lost: threading.Event) -> None:
        while not lost.wait(self.lease_seconds / 3):
            try:
                if not runs.heartbeat(self.rt.db, run_id, self.id, self.lease_seconds):
                    lost.set()
                else:
                    self.renewals.renewed(f"run {run_id}")
            except Exception:  # cannot renew: another worker may take the run soon, so stop writing now
                log.exception("heartbeat of run %s failed; giving the run up", run_id)
                lost.set()

    def _finish(self, ctx: RunContext) -> None:
        if not runs.finish(self.rt.db, ctx.run.id, ctx.outcome, worker_id=self.id):
            raise LeaseLost(f"run {ctx.run.id}")
        telemetry.run_ended(ctx.run.strategy, ctx.outcome)
        if ctx.outcome == "verified":
            telemetry.mitigated(ctx.incident.created_at)
        self._reread(ctx.incident, ctx.service, ctx.strategy)
        note, buttons = sync_note(self.rt, ctx.incident, ctx.run.id)
        blocks = [*(ctx.outcome_blocks or []), *buttons]
        self.say(ctx.incident, ctx.outcome_text + note, blocks if ctx.outcome_blocks is not None or buttons else None)
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
        telemetry.run_ended(run.strategy, "failed")
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
        hint = views.emergency_hint(run.strategy, bool(service and service.escalation))
        note, buttons = sync_note(rt, incident, run.id)
        self.say(
            incident,
            f":rotating_light: *The rollback of {run.service} FAILED"
            f"{f' at {failed_step}' if failed_step else ''}.*\n{views.escape(message)}\n*What you can do:* on the "
            f"incident card, {hint}{note}",
            buttons or None,
        )
        cards.refresh(rt, incident.id)

    def say(self, incident: Incident, text: str, blocks: list[dict] | None = None) -> None:
        if blocks is not None:
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}, *blocks]
        try:
            self.rt.slack.post(incident.channel_id, text, blocks)
        except SlackFailure as exc:
            log.error("could not tell %s: %s", incident.channel_id, exc)
