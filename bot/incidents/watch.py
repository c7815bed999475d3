"""Watch after a deploy: the runbook's auto-rollback monitor, as a periodic job of the worker.

Every pass (``DEPLOY_WATCH_SECONDS``) reads each catalog service's rollout history through its strategy. A new
live revision starts a watch of ``watch_minutes``: each pass reads the signals and checks the automatic
triggers (the catalog's ``thresholds``); ``watch_failures`` failed checks in a row declare an incident as the
``deploy-watch`` system actor, whose timeline starts at the deploy and lists the failed checks. A service with an
open incident is not watched (its incident is the place for what happens next), and a revision seen when the
worker starts counts as a deploy only when it rolled out less than ``watch_minutes`` ago. Only services on
Kubernetes in the kubeconfig's current context are watched (``watched``): another provider's or another
cluster's history is not read every pass; Alertmanager still declares for them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.config import ServiceConfig
from bot.incidents.actors import SystemActor
from bot.incidents.common import target
from bot.incidents.declare import declare
from bot.runtime import Runtime
from bot.signals.severity import triggered
from bot.state import timeline
from bot.state.incidents import open_incident_for_service
from bot.state.models import Incident
from bot.strategies import registry
from bot.strategies.base import Revision, RollbackError

log = logging.getLogger(__name__)
DEPLOY_WATCH = SystemActor("deploy-watch")

Declared = Callable[[Runtime, Incident, ServiceConfig], object]  # what follows a declaration (auto-rollback)


@dataclass
class Watching:
    revision: Revision
    deployed_at: dt.datetime
    until: dt.datetime
    failed: list[tuple[dt.datetime, tuple[str, ...]]] = field(default_factory=list)  # the failed checks in a row


def watched(services: Iterable[ServiceConfig]) -> list[ServiceConfig]:
    """The services the watch reads: on Kubernetes (``StrategySpec.provider``), with no ``cluster:``."""
    return [s for s in services if s.cluster is None and registry.spec(s.strategy).provider == "kubernetes"]


def identity(revision: Revision) -> tuple[int, str, str]:
    return revision.number, revision.name, revision.image


class DeployWatch:
    """The job's memory between passes: the live revision of each service and the watches running."""

    def __init__(self, rt: Runtime, then: Declared | None = None, now: Callable[[], dt.datetime] | None = None):
        self.rt = rt
        self.then = then
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.live: dict[str, tuple[int, str, str]] = {}
        self.watching: dict[str, Watching] = {}

    def run(self) -> None:
        """One pass over the catalog; a service whose history or signals cannot be read is tried next pass."""
        for service in watched(self.rt.catalog.services.values()):
            try:
                self.check(service)
            except Exception:
                log.exception("the watch after deploy of %s failed this pass", service.name)

    def check(self, service: ServiceConfig) -> None:
        try:
            history = self.rt.strategy_for(service).history(target(service))
        except RollbackError as exc:
            log.warning("watch after deploy: cannot read the history of %s: %s", service.name, exc)
            return
        if history:
            self._rolled_out(service, history[-1])
        watch = self.watching.get(service.name)
        if watch is None:
            return
        now = self.now()
        if now >= watch.until:
            log.info(
                "watch after deploy: %s %s held for %d min", service.name, watch.revision.words, service.watch_minutes
            )
            del self.watching[service.name]
            return
        reasons = triggered(self.rt.metrics.read(service), service.thresholds)
        watch.failed = [*watch.failed, (now, reasons)] if reasons else []
        log.info("watch after deploy: %s check %s", service.name, "; ".join(reasons) or "passed")
        if len(watch.failed) >= service.watch_failures:
            del self.watching[service.name]
            self._declare(service, watch)

    def _rolled_out(self, service: ServiceConfig, live: Revision) -> None:
        """Start a watch when the live revision is new (or, at the first pass, recent)."""
        first, seen = service.name not in self.live, self.live.get(service.name)
        self.live[service.name] = identity(live)
        if seen == identity(live):
            return
        now = self.now()
        window = dt.timedelta(minutes=service.watch_minutes)
        created = live.created_at.astimezone(dt.UTC) if live.created_at else None
        recent = created is not None and now - created < window
        if first and not recent:
            return
        if open_incident_for_service(self.rt.db, service.name) is not None:
            log.info(
                "watch after deploy: %s rolled out %s during an open incident; not watched", service.name, live.words
            )
            self.watching.pop(service.name, None)
            return
        deployed = created if recent else now  # an old ReplicaSet made live again (an undo) rolled out now
        self.watching[service.name] = Watching(live, deployed, deployed + window)
        log.info("watch after deploy: watching %s %s for %d min", service.name, live.words, service.watch_minutes)

    def _declare(self, service: ServiceConfig, watch: Watching) -> None:
        since = f"{watch.deployed_at:%H:%M:%S} UTC"
        reason = (
            f"Watch after deploy: {watch.revision.words}, rolled out at {since}, failed {len(watch.failed)} checks "
            f"in a row: {'; '.join(watch.failed[-1][1])}"
        )
        incident = declare(self.rt, service.name, reason, DEPLOY_WATCH)
        if incident is None or incident.declared_by != DEPLOY_WATCH.id:
            return  # someone (or Alertmanager) was first: that incident goes on
        data = {"revision": watch.revision.number, "image": watch.revision.image, "actor": DEPLOY_WATCH.data}
        timeline.record(
            self.rt.db,
            incident.id,
            "deploy",
            f"{watch.revision.words} rolled out",
            actor=DEPLOY_WATCH.id,
            data=data,
            at=watch.deployed_at,
        )
        for at, reasons in watch.failed:
            timeline.record(
                self.rt.db,
                incident.id,
                "watch",
                f"Check after the deploy failed: {'; '.join(reasons)}",
                actor=DEPLOY_WATCH.id,
                data={"reasons": list(reasons), "actor": DEPLOY_WATCH.data},
                at=at,
            )
        if self.then is not None:
            self.then(self.rt, incident, service)
