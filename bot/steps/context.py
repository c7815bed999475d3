"""What a run's steps share: the run in the hands of one worker, what they may use of the bot, and how a step
reports. The worker passes all of it in; the steps never reach back into it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.config import ServiceConfig, Settings
from bot.incidents import cards
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.signals.metrics import MetricsReader
from bot.state import runs
from bot.state.db import Database
from bot.state.models import Incident, RollbackRun
from bot.state.runs import LeaseLost
from bot.strategies.base import Plan, Progress, Strategy
from bot.strategies.capabilities import AfterVerify


@dataclass(frozen=True)
class RunEnvironment:
    """What the steps use of the bot: where runs are recorded, the settings (the rollout deadline, the scrape
    interval), the metrics, and how to refresh a card, record on the timeline and tell the channel."""

    db: Database
    worker_id: str  # every write of the run names it: a worker that lost its lease writes nothing more
    settings: Settings
    metrics: MetricsReader
    refresh_card: Callable[..., None]  # (incident_id, throttle=False)
    record: Callable[..., Any]  # (incident_id, kind, text, data=None)
    say: Callable[..., None]  # (incident, text): a message to the incident's channel
    after_verify: Callable[[ServiceConfig], tuple[AfterVerify, ...]] = lambda service: ()  # the runtime's

    @classmethod
    def of(cls, rt: Runtime, worker_id: str, say: Callable[..., None]) -> RunEnvironment:
        return cls(rt.db, worker_id, rt.settings, rt.metrics, partial(cards.refresh, rt), partial(record, rt), say,
                   rt.after_verify)


@dataclass
class RunContext:
    """One run in the hands of one worker: what was confirmed, and what the steps found so far."""

    env: RunEnvironment
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
        runs.step(self.env.db, self.run.id, name, status, detail, worker_id=self.env.worker_id)
        self.env.refresh_card(self.incident.id, throttle=status == "running")

    def record(self, kind: str, text: str, **data) -> None:
        self.env.record(self.incident.id, kind, text, data=data or None)

    def progress(self, name: str):
        """A strategy's progress callback: the card shows each state, the timeline each new message once."""
        seen: set[str] = set()

        def report(p: Progress) -> None:
            self.step(name, "running", p.message)
            if p.message not in seen:
                seen.add(p.message)
                self.record("progress", p.message, desired=p.desired, updated=p.updated, available=p.available)

        return report

    @property
    def deadline_seconds(self) -> float:
        return self.env.settings.rollback_deadline_seconds


def change_text(plan: Plan) -> str:
    """``v1.2.5 -> v1.2.4``, or with the labels of colours and tracks: ``green (v2.1.0) -> blue (v2.0.1)``."""
    current, desired = plan.current, plan.desired
    if plan.target.env_only and plan.summary:  # "env only: FEATURE_FLAG_X reverted; image kept"
        return plan.summary
    if not desired:
        return current.version
    if desired.label:
        return f"{current.label} ({current.version}) -> {desired.label} ({desired.version})"
    return f"{current.version} -> {desired.version}"
