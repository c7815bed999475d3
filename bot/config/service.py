"""A service of the catalog, and the catalog itself, as the rest of the bot reads them."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from bot.config.database import DatabaseRef
from bot.config.deadlines import Deadlines
from bot.config.escalation import Situation
from bot.config.names import promql_string
from bot.config.outbound import StatusPage, Webhook
from bot.config.permissions import ANYONE, Action, Kind
from bot.config.queries import Analysis, Thresholds, default_queries
from bot.strategies.options import BackupJob, Cdn


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    namespace: str = ""  # a Kubernetes strategy's (the catalog requires it there); "" elsewhere
    cluster: str | None = None  # the kubeconfig context it runs in; None: the kubeconfig's current one
    deployment: str = ""  # "" -> the service name
    container: str | None = None  # None -> the first container
    strategy: str = "kubernetes"
    health_url: str | None = None
    owners: tuple[str, ...] = ()
    rollback_allowed: tuple[str, ...] = (ANYONE,)
    responders: tuple[str, ...] | None = None  # None -> owners + rollback_allowed + the declarer
    private_channel: bool = False  # the incident channel is private (invited people only)
    require_approval: bool = False
    escalation: tuple[Situation, ...] = ()  # who is paged in which situation (bot.config.escalation)
    db_migrations: bool = False
    backup_job: BackupJob | None = None  # run before a rollback (db_migrations only); a failed one refuses it
    migration_runbook: str | None = None  # where the plan points for rolling a schema back (never automatic)
    database: DatabaseRef | None = None  # where the schema version per release is read (bot.schema)
    window: str = "5m"  # rate window of a live read (detection)
    queries: dict[str, str] = field(default_factory=dict, compare=False)  # templates: defaults + overrides
    thresholds: Thresholds = field(default_factory=Thresholds)
    analysis: Analysis = field(default_factory=Analysis)
    watch_minutes: int = 10  # after a new revision rolls out, the triggers are read for this long ...
    watch_failures: int = 3  # ... and this many failed checks in a row declare an incident
    auto_rollback: str = "off"  # off | propose (declare and present the plan) | execute (after a grace period)
    auto_rollback_grace: str = "2m"  # execute: time to click Hold before the bot rolls back
    min_good_minutes: int = 30  # the previous revision must have been live this long to count as known good
    flap_guard: str = "1h"  # never two automatic rollbacks of the service within this
    signals: str = "prometheus"  # where the signals are read: prometheus (the queries) or cloudwatch
    cloudwatch: Any = None  # signals: cloudwatch: a bot.config.cloudwatch.CloudWatchSource (its ALB's dimensions)
    cdn: Cdn | None = None  # invalidated after every successful switch (the run's "invalidate cache" step)
    decision_deadlines: Deadlines = field(default_factory=Deadlines)  # per severity, from the declaration
    update_every: int | None = None  # seconds between stakeholder updates (None: the catalog's reminder_minutes)
    status_page: StatusPage | None = None  # the Statuspage component the incident's state sets
    options: Any = None  # the strategy's own settings, an instance of its spec's options class (None: it has none)

    def __post_init__(self) -> None:
        if not self.deployment:
            object.__setattr__(self, "deployment", self.name)
        templates = {**default_queries(self.thresholds.restarts_window), **self.queries}
        object.__setattr__(self, "queries", templates)

    def query(self, signal: str, window: str | None = None) -> str | None:
        """The signal's PromQL over ``window`` (default: the service's ``window``); None if it has none.

        $service, $namespace and $selector are filled in escaped, so an override like
        ``up{service="$service"}`` is safe; one pass, so a value is never substituted again.
        """
        template = self.queries.get(signal)
        if not template:
            return None
        name, namespace = promql_string(self.name), promql_string(self.namespace)
        return string.Template(template).safe_substitute(
            service=name[1:-1],
            namespace=namespace[1:-1],
            selector=f"service={name},namespace={namespace}",
            window=window or self.window,
        )

    def who_may(self, action: Action, declared_by: str | None) -> tuple[str, ...]:
        """The user ids allowed to take ``action`` (``("*",)``: anyone), to check and to name in a refusal."""
        if action.kind is Kind.ANYONE:
            return (ANYONE,)
        if action.kind is Kind.ROLLBACK:
            return self.rollback_allowed
        if self.responders is not None:
            return self.responders
        if action.kind is Kind.READ:
            declared_by = None  # anyone may declare; that must not open the service's config to them
        people = (*self.owners, *self.rollback_allowed, *((declared_by,) if declared_by else ()))
        return (ANYONE,) if ANYONE in people else tuple(dict.fromkeys(people))

    def may(self, action: Action, user_id: str, declared_by: str | None) -> bool:
        """Whether ``user_id`` may take ``action`` on an incident of this service declared by ``declared_by``."""
        allowed = self.who_may(action, declared_by)
        return ANYONE in allowed or user_id in allowed

    def may_roll_back(self, user_id: str) -> bool:
        return self.may(Action.ROLL_BACK, user_id, None)


@dataclass(frozen=True)
class Catalog:
    services: dict[str, ServiceConfig]
    announcements_channel: str | None = None  # None: no announcements
    reminder_minutes: int = 30
    webhooks: tuple[Webhook, ...] = ()  # a signed JSON POST to each on every state change
    warnings: tuple[str, ...] = ()  # "<path>:<line>: warning: <field>: <message>", for check-config and the log

    def get(self, name: str) -> ServiceConfig | None:
        return self.services.get(name) if isinstance(name, str) else None
