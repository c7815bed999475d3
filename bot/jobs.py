"""The worker's periodic jobs: each one a name, a period and what it does.

The worker loop claims runs and, on every pass, asks ``Schedule.run_due`` to run the jobs whose time
has come. A new job (watch after a deploy, auto-rollback) is one ``Job`` line in ``worker_jobs``. A job
that raises is logged and tried again at its next period; it never stops the others or the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from bot.incidents import auto_rollback, comms, deadlines, paging, schema_notes
from bot.incidents.watch import DeployWatch
from bot.runtime import Runtime
from bot.strategies.base import RollbackError

log = logging.getLogger(__name__)

ONCE = None  # a job's period: run at the first pass only


@dataclass(frozen=True)
class Job:
    name: str
    every: float | None  # seconds between runs (0: every pass of the loop; ONCE: the first pass only)
    run: Callable[[], object]


def worker_jobs(
    rt: Runtime, sweep: Callable[[], object], beat: Callable[[], object], beat_every: float
) -> tuple[Job, ...]:
    """What the worker does besides running rollbacks, one line each (``sweep``: the worker's own, which
    records what it cancelled as the worker does; ``beat``: its heartbeat, ``beat_every`` seconds)."""
    return (
        Job("heartbeat", beat_every, beat),
        Job("config tracker", ONCE, partial(start_config_tracker, rt)),
        Job("sweep", 0, sweep),
        Job("reminders", 30, partial(comms.remind_due, rt)),
        Job("decision deadlines", 2, partial(deadlines.due, rt)),
        Job("escalation pages", 2, partial(paging.step_up_due, rt)),
        Job("watch after deploy", rt.settings.deploy_watch_seconds, DeployWatch(rt, then=auto_rollback.begin).run),
        Job("auto-rollback countdown", 2, partial(auto_rollback.tick, rt)),
        Job("schema versions", rt.settings.deploy_watch_seconds, partial(schema_notes.record_live, rt)),
    )


def start_config_tracker(rt: Runtime) -> None:
    """Record config versions from now on (the runtime stops the tracker on close)."""
    try:
        rt.config_tracker().start()
    except RollbackError as exc:  # no cluster configured: rollbacks will say so too
        log.warning("the config tracker did not start: %s", exc)


class Schedule:
    """When each job is next due, on a monotonic clock (``clock`` is for tests)."""

    def __init__(self, jobs: Sequence[Job], clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = tuple(jobs)
        self._clock = clock
        self._due: dict[str, float | None] = {job.name: clock() for job in self.jobs}

    def run_due(self) -> list[str]:
        """Run every job that is due, in order; returns the names of those that ran (raised or not)."""
        ran = []
        for job in self.jobs:
            due, now = self._due[job.name], self._clock()
            if due is None or now < due:
                continue
            self._due[job.name] = None if job.every is ONCE else now + job.every
            ran.append(job.name)
            try:
                job.run()
            except Exception:  # the next period tries again; the other jobs run regardless
                log.exception("periodic job %r failed", job.name)
        return ran
