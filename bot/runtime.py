"""Everything a request or a worker needs, built once from the settings."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot import redact, telemetry
from bot.config import Catalog, ServiceConfig, Settings, load_catalog
from bot.providers.clients import Clients
from bot.providers.statuspage import Statuspage
from bot.signals.metrics import MetricsReader
from bot.signals.sources import Signals
from bot.slack.gateway import SlackGateway, make_client
from bot.state.config_versions import RecordedVersions
from bot.state.db import Database
from bot.strategies.base import RollbackError, Strategy
from bot.strategies.capabilities import AfterVerify
from bot.strategies.factory import Factory, strategy_factories
from bot.strategies.registry import BuildContext
from bot.strategies.versions import SECRETS_NOT_TRACKED, Fingerprints

if TYPE_CHECKING:
    from bot.config_tracker import ConfigTracker

log = logging.getLogger(__name__)


class Answerable(Protocol):
    """Whom ``submit`` tells when a job fails (``bot.incidents.actors.Actor``: the runtime sits below it)."""

    @property
    def id(self) -> str: ...

    def unexpected(self, what: str, exc: BaseException) -> None: ...


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    db: Database
    slack: SlackGateway
    metrics: Signals | MetricsReader  # Signals: Prometheus's or CloudWatch's, per service
    strategy_factories: dict[str, Factory]
    archive: Any = None  # ARCHIVE_BUCKET: bot.providers.aws.archive.S3Archive (write, locations); None: no archive
    status_page: Statuspage | None = None  # the Statuspage driver (STATUSPAGE_PAGE_ID and _API_KEY set)
    clients: Clients = field(default_factory=Clients)  # every platform client, built once, closed with the runtime
    wake_worker: threading.Event = field(default_factory=threading.Event)
    background: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-work")
    )
    card_updated_at: dict[int, float] = field(default_factory=dict)  # incident id -> monotonic time (throttle)
    known_people: set[str] = field(default_factory=set)  # user ids whose display name is stored
    _strategies: dict[tuple[str, str | None], Strategy] = field(default_factory=dict)  # (name, cluster)
    _tracker: ConfigTracker | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def postmortem_dir(self) -> Path:
        return Path(self.settings.postmortem_dir)

    def submit(self, fn: Callable[..., object], *args: object, answer: Answerable | None = None) -> None:
        """Run a listener's work after its ack, off Bolt's small listener pool, so acks never queue behind it.

        A job that raises is logged and, given ``answer``, the person who asked is told. The job runs in a copy
        of the caller's context (``bot.logs``' incident and run), so what it binds never leaks to the next job.
        """

        def logged() -> None:
            telemetry.QUEUE.dec()
            try:
                fn(*args)
            except Exception as exc:  # Bolt's error handler no longer sees it
                what = getattr(fn, "__name__", "your request").replace("_", " ")
                log.exception("%s failed", what)
                if answer is not None:
                    try:
                        answer.unexpected(f"handled {what}", exc)
                    except Exception:
                        log.exception("could not tell %s that %s failed", answer.id, what)

        telemetry.QUEUE.inc()
        self.background.submit(contextvars.copy_context().run, logged)

    def close(self) -> None:
        """Finish the work in hand (a reply half sent is worse than a slow stop)."""
        if self._tracker is not None:
            self._tracker.stop()
        self.background.shutdown(wait=True)
        self.slack.close()
        self.clients.close()
        self.metrics.close()
        if self.status_page is not None:
            self.status_page.close()
        self.db.dispose()

    def strategy_for(self, service: ServiceConfig) -> Strategy:
        """The service's strategy for its cluster (one per strategy and cluster), connected on first use (a report
        needs no cluster)."""
        name = service.strategy
        if name not in self.strategy_factories:
            raise RollbackError(
                f"The {name!r} strategy of {service.name} is not available on this bot "
                f"(available: {', '.join(sorted(self.strategy_factories))})."
            )
        with self._lock:
            key = (name, service.cluster)
            if key not in self._strategies:
                self._strategies[key] = self.strategy_factories[name](service.cluster)
            return self._strategies[key]

    def run_steps(self, service: ServiceConfig) -> list[str]:
        """The steps of a run of ``service``: its strategy's, then those of what the service declares beside it
        (``cdn:``: "invalidate cache", whatever the strategy)."""
        return [*self.strategy_for(service).steps, *(("invalidate cache",) if service.cdn else ())]

    def after_verify(self, service: ServiceConfig) -> tuple[AfterVerify, ...]:
        """What runs after a successful switch of ``service`` (``AfterVerify``): its CloudFront invalidation."""
        if service.cdn is None:
            return ()
        from bot.providers.aws.cloudfront import CloudFrontInvalidation  # boto3 only when a service needs it

        return (CloudFrontInvalidation(self.clients, service.cdn),)

    def _kubernetes(self, cluster: str | None) -> Any:
        return self.clients.kubernetes(context=cluster)

    def config_tracker(self) -> ConfigTracker:
        """The recorder of the services' ConfigMap and Secret versions, connected on first use."""
        from bot.config_tracker import ConfigTracker

        with self._lock:
            if self._tracker is None:
                prints = Fingerprints.of(self.settings.config_fingerprint_key)
                self._tracker = ConfigTracker(self.catalog, self.db, self._kubernetes, prints)
            return self._tracker


SCHEMA = ("migrate", "check", "skip")  # what build_runtime does with the database's schema


def build_runtime(settings: Settings, schema: str = "migrate") -> Runtime:
    """``schema``: ``migrate`` it (tests, the sandbox, MIGRATE_ON_START), ``check`` it is at this code's revision
    (``serve`` and ``worker``: raises ``SchemaBehind``, saying to run ``rollback-bot migrate``), or ``skip``."""
    if schema not in SCHEMA:
        raise ValueError(f"schema: expected one of {SCHEMA}, got {schema!r}")
    redact.remember(*settings.secrets())
    db = Database(settings.database_url)
    if schema == "migrate":
        db.migrate()
    elif schema == "check":
        db.check_schema()
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    catalog = load_catalog(settings.catalog_path)
    for warning in catalog.warnings:  # e.g. anyone may roll back: worth a line at every start
        log.warning("%s", warning)
    prints = Fingerprints.of(settings.config_fingerprint_key)
    clients = Clients(settings.kubeconfig)
    if not prints.tracks("Secret"):
        log.warning("%s", SECRETS_NOT_TRACKED)
    return Runtime(
        settings=settings,
        catalog=catalog,
        db=db,
        slack=SlackGateway(client),
        archive=_archive(settings, clients),
        metrics=Signals(MetricsReader(settings.prometheus_url, auth=settings.prometheus_auth), clients),
        strategy_factories=strategy_factories(BuildContext(clients, RecordedVersions(db, prints))),
        clients=clients,
        status_page=_status_page(settings),
    )


def _archive(settings: Settings, clients: Clients) -> Any:
    if settings.archive is None:
        return None
    from bot.providers.aws.archive import S3Archive  # boto3 costs start-up time a bot without an archive does not need

    return S3Archive(settings.archive, clients)


def _status_page(settings: Settings) -> Statuspage | None:
    page = settings.status_page
    return Statuspage(page.url, page.page_id, page.api_key) if page.page_id and page.api_key else None
