"""The worker: claims durable rollback runs and carries them out step by step; sends reminders.

A run is claimed with a lease and kept alive by a heartbeat; if this process dies,
another worker claims the run once the lease expires and resumes it from its
recorded steps (a patch that was already applied is not sent twice).
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
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from bot.config import ServiceConfig, duration_seconds
from bot.incidents import cards
from bot.incidents.lifecycle import RUN_STEPS
from bot.runtime import Runtime
from bot.signals.analysis import Outcome
from bot.signals.verification import verify
from bot.slack import views as slack_views
from bot.slack.gateway import SlackFailure
from bot.state import runs, timeline
from bot.state.incidents import update_incident
from bot.state.models import Incident, RollbackRun
from bot.strategies.base import Plan, Progress, RollbackError, Target, plan_from_json

log = logging.getLogger(__name__)

PRECHECKS, BACKUP, ROLLBACK, WAIT, VERIFY = RUN_STEPS


class LeaseLost(Exception):
    """Another worker took this run over (our heartbeat stopped in time): stop touching it."""


class Worker:
    def __init__(
        self,
        rt: Runtime,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        max_parallel: int = 4,
        verify_timeout: float = 120.0,
    ) -> None:
        self.rt = rt
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.verify_timeout = verify_timeout
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

    # ------------------------------------------------------------------------ a run

    def execute(self, run: RollbackRun) -> None:
        rt = self.rt
        incident = rt.db.transaction(lambda s: s.get(Incident, run.incident_id))
        service = rt.catalog.get(run.service)
        lost = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(run.id, lost), daemon=True)
        beat.start()
        try:
            if service is None:
                raise RollbackError(f"{run.service} is no longer in the services catalog")
            self._steps(run, incident, service, lost)
        except LeaseLost:
            log.warning("run %s was taken over by another worker", run.id)
        except Exception as exc:  # every failure is reported to the channel and recorded
            self._fail(run, incident, exc)
        finally:
            lost.set()
            beat.join(timeout=5)

    def _heartbeat(self, run_id: int, lost: threading.Event) -> None:
        while not lost.wait(self.lease_seconds / 3):
            try:
                if not runs.heartbeat(self.rt.db, run_id, self.id, self.lease_seconds):
                    lost.set()
            except Exception:
                log.exception("heartbeat of run %s", run_id)

    def _step(self, run: RollbackRun, name: str, status: str, detail: str, lost: threading.Event) -> None:
        if lost.is_set() and status == "running":
            raise LeaseLost()
        runs.step(self.rt.db, run.id, name, status, detail)
        cards.refresh(self.rt, run.incident_id, throttle=status == "running")

    def _steps(self, run: RollbackRun, incident: Incident, service: ServiceConfig, lost: threading.Event) -> None:
        rt = self.rt
        done = {s.name for s in run.steps if s.status in ("done", "skipped")}
        confirmed = plan_from_json(run.plan)
        strategy = rt.strategy_for(service)
        record = lambda kind, text, **data: timeline.record(  # noqa: E731
            rt.db, incident.id, kind, text, data=data or None
        )
        if run.attempts == 1:
            record("rollback_started", f"Rollback started by worker {self.id}", run_id=run.id)
        else:
            record(
                "rollback_resumed",
                f"Rollback resumed by worker {self.id} (attempt {run.attempts})",
                run_id=run.id,
            )

        # 1. pre-checks: the workload is as the user saw it (or already rolled back, when resuming).
        self._step(run, PRECHECKS, "running", "checking the target revision and the live state", lost)
        plan, applied = self._fresh_plan(strategy, confirmed, run)
        notes = list(plan.warnings) or ["target exists, deployment not paused"]
        self._step(run, PRECHECKS, "done", "; ".join(notes), lost)

        # 2. backup: a database snapshot only for services that declare migrations.
        if BACKUP not in done:
            self._step(
                run,
                BACKUP,
                "skipped",
                "no database snapshot needed (no migrations declared)"
                if not service.db_migrations
                else "no snapshot target configured for this service",
                lost,
            )

        # 3. the change itself, exactly once.
        if applied or ROLLBACK in done:
            self._step(run, ROLLBACK, "done", f"already applied: {plan.desired.version} is live", lost)
        else:
            self._step(run, ROLLBACK, "running", f"patching to revision {plan.desired.number}", lost)
            strategy.apply(plan)
            self._step(
                run,
                ROLLBACK,
                "done",
                f"patch accepted: {plan.current.version} -> {plan.desired.version}",
                lost,
            )
            record(
                "patched",
                f"Rollback applied: {plan.current.version} -> {plan.desired.version}",
                from_image=plan.current.image,
                to_image=plan.desired.image,
            )

        # 4. wait by the rules of `kubectl rollout status`.
        self._step(run, WAIT, "running", "waiting for the new pods", lost)
        seen: set[str] = set()

        def progress(p: Progress) -> None:
            self._step(run, WAIT, "running", p.message, lost)
            if p.message not in seen:
                seen.add(p.message)
                record("progress", p.message, desired=p.desired, updated=p.updated, available=p.available)

        strategy.wait(plan.target, progress, rt.settings.rollback_deadline_seconds)
        self._step(run, WAIT, "done", f"{plan.desired.version} rolled out", lost)
        record("rolled_out", f"Rollout of {plan.desired.version} finished")

        # 5. verify: an analysis of the traffic served since the rollout completed (bot.signals.analysis).
        a = service.analysis
        self._step(run, VERIFY, "running", f"verifying: a check every {a.interval} for {a.bake}", lost)
        result = verify(
            strategy,
            plan,
            service,
            rt.metrics,
            duration_seconds(rt.settings.prometheus_scrape_interval),
            progress=lambda line: self._step(run, VERIFY, "running", line, lost),
        )
        outcome, version = result.outcome, plan.desired.version
        checks = cards.verification_to_json(result.verification)
        record(outcome.value, f"{outcome.title}: {result.reason}", checks=checks)
        self._step(run, VERIFY, "done" if outcome is Outcome.VERIFIED else "failed", result.reason, lost)
        runs.finish(rt.db, run.id, "succeeded")
        update_incident(rt.db, incident.id, status="monitoring" if outcome is Outcome.VERIFIED else "open")
        if outcome is Outcome.VERIFIED:
            self._say(
                incident,
                f":white_check_mark: *{service.name} is back on {version}* and verified: {result.reason} "
                "(pods ready, health URL UP, 5xx rate and p95 latency under thresholds).\n"
                "*Next:* keep an eye on it; when you are ready, type `/rollback resolve` here to write "
                "the postmortem.",
                slack_views.verification_blocks(result.verification),
            )
        elif outcome is Outcome.FAILED:
            self._say(
                incident,
                f":rotating_light: *The rollback of {service.name} to {version} "
                "went out, but the service is NOT healthy.* What failed is below. *What you can do:* "
                "roll back to an older revision from the card, *Scale to zero*, or *Page escalation*.",
                slack_views.verification_blocks(result.verification),
            )
        else:
            self._say(
                incident,
                *slack_views.could_not_verify_message(
                    service.name,
                    service.namespace,
                    service.deployment,
                    service.health_url,
                    version,
                    result.reason,
                    result.verification,
                ),
            )
        cards.refresh(rt, incident.id)

    def _fresh_plan(self, strategy, confirmed: Plan, run: RollbackRun) -> tuple[Plan, bool]:
        """Re-plan against the live state; (plan, already_applied)."""
        desired = confirmed.desired
        history = strategy.history(confirmed.target)
        if desired and history and history[-1].image == desired.image and run.attempts > 1:
            return dataclasses.replace(confirmed, desired=history[-1]), True
        fresh = strategy.plan(Target(**{**vars(confirmed.target), "to_revision": desired.number}))
        if (fresh.current.number, fresh.current.image) != (confirmed.current.number, confirmed.current.image):
            raise RollbackError(
                f"{confirmed.target.workload} changed after the plan was confirmed: it is now at revision "
                f"{fresh.current.number} ({fresh.current.version}), not {confirmed.current.number} "
                f"({confirmed.current.version}). Nothing was rolled back. Review the new state and plan again."
            )
        if fresh.skipped:
            return fresh, True
        return fresh, False

    def _fail(self, run: RollbackRun, incident: Incident, exc: Exception) -> None:
        rt = self.rt
        message = str(exc) if isinstance(exc, RollbackError) else f"unexpected error: {exc!r}"
        log.warning("run %s failed: %s", run.id, message, exc_info=not isinstance(exc, RollbackError))
        failed_step = next((s.name for s in runs.get_run(rt.db, run.id).steps if s.status == "running"), None)
        if failed_step:
            runs.step(rt.db, run.id, failed_step, "failed", message[:500])
        runs.finish(rt.db, run.id, "failed", error=message)
        update_incident(rt.db, incident.id, status="open")
        timeline.record(
            rt.db,
            incident.id,
            "rollback_failed",
            f"Rollback failed{f' at {failed_step}' if failed_step else ''}: {message}",
            data={"run_id": run.id, "step": failed_step},
        )
        service = rt.catalog.get(run.service)
        escalation = f" or page <@{service.escalation}>" if service and service.escalation else ""
        self._say(
            incident,
            f":rotating_light: *The rollback of {run.service} FAILED"
            f"{f' at {failed_step}' if failed_step else ''}.*\n{message}\n*What you can do:* try another "
            f"revision from the card, *Scale to zero*{escalation}.",
            None,
        )
        cards.refresh(rt, incident.id)

    def _say(self, incident: Incident, text: str, blocks: list[dict] | None) -> None:
        if blocks is not None:
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, *blocks]
        try:
            self.rt.slack.post(incident.channel_id, text, blocks)
        except SlackFailure as exc:
            log.error("could not tell %s: %s", incident.channel_id, exc)

    # ------------------------------------------------------------------ reminders

    def remind_if_due(self, now: dt.datetime | None = None) -> int:
        """Ask each open incident's lead for an update every ``reminder_minutes``; returns reminders sent."""
        if time.monotonic() - self._last_reminder_check < 30 and now is None:
            return 0
        self._last_reminder_check = time.monotonic()
        now = now or dt.datetime.now(dt.UTC)
        every = dt.timedelta(minutes=self.rt.catalog.reminder_minutes)
        query = select(Incident).where(Incident.status.in_(("open", "rolling_back", "monitoring")))
        sent = 0
        for incident in self.rt.db.transaction(lambda s: list(s.scalars(query))):
            events = timeline.events(self.rt.db, incident.id)
            last = max(
                (e.at for e in events if e.kind in ("declared", "status_update", "reminder")),
                default=incident.created_at,
            )
            if now - last < every or not incident.channel_id:
                continue
            lead = incident.lead_user_id or incident.declared_by
            minutes = int((now - last).total_seconds() // 60)
            text = (
                f":alarm_clock: <@{lead}>, {incident.key} has had no stakeholder update for {minutes} minutes. "
                "Please post one: `/rollback update`."
            )
            try:
                self.rt.slack.post(incident.channel_id, text)
            except SlackFailure as exc:
                log.warning("reminder for %s failed: %s", incident.key, exc)
                continue
            timeline.record(self.rt.db, incident.id, "reminder", f"Reminded <@{lead}> to post an update", at=now)
            sent += 1
        return sent
