"""Everything a request or a worker needs, built once from the settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Catalog, ServiceConfig, Settings, load_catalog
from bot.db import Database
from bot.metrics import MetricsReader
from bot.slack_gateway import SlackGateway, make_client
from bot.strategies.base import RollbackError, Strategy


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    db: Database
    slack: SlackGateway
    metrics: MetricsReader
    strategies: dict[str, Strategy]
    wake_worker: threading.Event = field(default_factory=threading.Event)

    @property
    def postmortem_dir(self) -> Path:
        return Path(self.settings.postmortem_dir)

    def strategy_for(self, service: ServiceConfig) -> Strategy:
        try:
            return self.strategies[service.strategy]
        except KeyError:
            raise RollbackError(
                f"The {service.strategy!r} strategy of {service.name} is not configured on this bot "
                f"(available: {', '.join(sorted(self.strategies)) or 'none'})."
            ) from None


def kubernetes_strategy(kubeconfig: str | None) -> Strategy:
    """The Kubernetes undo strategy on the cluster named by KUBECONFIG (or in-cluster)."""
    from kubernetes import config as k8s_config

    from bot.strategies.kubernetes import KubernetesUndo

    if kubeconfig:
        api_client = k8s_config.new_client_from_config(config_file=kubeconfig)
    else:
        k8s_config.load_incluster_config()
        from kubernetes.client import ApiClient

        api_client = ApiClient()
    return KubernetesUndo(api_client)


def build_runtime(settings: Settings, migrate: bool = True) -> Runtime:
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    return Runtime(
        settings=settings,
        catalog=load_catalog(settings.catalog_path),
        db=db,
        slack=SlackGateway(client),
        metrics=MetricsReader(settings.prometheus_url),
        strategies={"kubernetes": kubernetes_strategy(settings.kubeconfig)},
    )
