"""The config tracker: records every version of the ConfigMaps and Secrets the catalog's services read.

Kubernetes keeps no history of a ConfigMap or a Secret, so the bot keeps one, from a list and then a
watch per cluster, namespace and kind; ``bot.state.config_versions`` stores each version (a Secret as key names
and keyed hashes only; without CONFIG_FINGERPRINT_KEY no Secret is tracked, and the bot says so). Tracked
are the objects a catalog entry's strategy options name (``options.configmap``, ``options.secrets``) and those its pod
templates reference (envFrom, env valueFrom, volumes), read again at every re-list. It runs with the
worker; two replicas record the same version once (a unique constraint).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kubernetes import client

from bot.config import Catalog, ServiceConfig
from bot.providers.kubernetes.api import Api, Call, CallFailed, Obj, explain
from bot.providers.kubernetes.env_rules import config_refs
from bot.state import config_versions
from bot.state.db import Database
from bot.strategies import registry
from bot.strategies.base import RollbackError
from bot.strategies.versions import PLAIN, Fingerprints

log = logging.getLogger(__name__)

KINDS = {"ConfigMap": "configmaps", "Secret": "secrets"}
WATCH_SECONDS = 120  # the server ends each watch after this; the tracker then lists again
RETRY_SECONDS = 5.0  # after a failed list or watch; doubled while it keeps failing
MAX_RETRY_SECONDS = 300.0


def workloads(service: ServiceConfig) -> list[tuple[str, str]]:
    """(resource, name) of every workload whose pods the service runs (its strategy's spec says which)."""
    return list(registry.spec(service.strategy).workloads(service.deployment, service.options))


def named_in_catalog(service: ServiceConfig) -> set[tuple[str, str]]:
    """(kind, name) of the config objects the service's strategy options name (``options.configmap``)."""
    return set(registry.spec(service.strategy).watches(service.options))


Where = tuple[str | None, str]  # (cluster: a kubeconfig context, None the current one; namespace)


class ConfigTracker:
    """``connect(cluster)``: the runtime's ``ApiClient`` of that kubeconfig context (one per context)."""

    def __init__(
        self,
        catalog: Catalog,
        db: Database,
        connect: Callable[[str | None], client.ApiClient],
        prints: Fingerprints = PLAIN,
    ) -> None:
        self.catalog, self.db, self.prints = catalog, db, prints
        self._connect = connect
        self._apis: dict[str | None, Api] = {}
        self._api_lock = threading.Lock()
        self.retry_seconds = RETRY_SECONDS
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------------ what is tracked

    def services(self) -> list[ServiceConfig]:
        """The services on Kubernetes (a strategy of another provider has no ConfigMaps to record)."""
        return [s for s in self.catalog.services.values() if registry.spec(s.strategy).provider == "kubernetes"]

    def services_in(self, where: Where) -> list[ServiceConfig]:
        return [s for s in self.services() if (s.cluster, s.namespace) == where]

    def api(self, cluster: str | None) -> Api:
        """The cluster's API, its pool sized for a connection per open watch (a namespace's ConfigMaps, its
        Secrets) and some for the reads."""
        with self._api_lock:
            if cluster not in self._apis:
                api_client = self._connect(cluster)
                watched = sum(1 for c, _ in self.places() if c == cluster)
                api_client.configuration.connection_pool_maxsize = 4 + 2 * watched
                self._apis[cluster] = Api(api_client)
            return self._apis[cluster]

    def objects_of(self, service: ServiceConfig) -> set[tuple[str, str]]:
        """(kind, name) of the ConfigMaps and Secrets the service reads. A workload that cannot be read adds
        nothing (the catalog's own names are still tracked)."""
        found = named_in_catalog(service)
        for resource, name in workloads(service):
            try:
                workload = self.api(service.cluster).read(Call("get", resource, service.namespace, name))
            except CallFailed as failed:
                log.info("config tracker: cannot read %s %s/%s: %s", resource, service.namespace, name, failed)
                continue
            found |= {(ref.kind, ref.name) for ref in config_refs((workload.get("spec") or {}).get("template") or {})}
        return found

    def tracked(self, where: Where) -> set[tuple[str, str]]:
        return set().union(*(self.objects_of(s) for s in self.services_in(where)))

    def record(self, kind: str, obj: Obj, tracked: set[tuple[str, str]]) -> None:
        if (kind, (obj.get("metadata") or {}).get("name")) in tracked:
            config_versions.record(self.db, kind, obj, self.prints)

    # ------------------------------------------------------------------------ list, then watch

    def sync(self, where: Where, kind: str) -> tuple[str, set[tuple[str, str]]]:
        """Record the tracked objects of one kind as they are now: the list's resourceVersion to watch from,
        and what is tracked."""
        tracked = self.tracked(where)
        listed = self.api(where[0]).read(Call("list", KINDS[kind], where[1]))
        for obj in listed.get("items") or []:
            self.record(kind, obj, tracked)
        return (listed.get("metadata") or {}).get("resourceVersion", ""), tracked

    def follow(self, where: Where, kind: str) -> None:
        """List, then watch from there, over and over until stopped."""
        failures = 0
        while not self._stop.is_set():
            try:
                since, tracked = self.sync(where, kind)
                failures = 0
                self._watch(where, kind, since, tracked)
            except CallFailed as failed:
                failures += 1
                pause = min(self.retry_seconds * 2 ** (failures - 1), MAX_RETRY_SECONDS)
                log.warning(
                    "config tracker: %s %s in %s: %s; trying again in %.0f s",
                    failed.call.verb, kind, _named(where), failed, pause,
                )
                self._stop.wait(pause)
            except RollbackError as exc:  # no client for that cluster (no kubeconfig, an unknown context)
                failures += 1
                pause = min(self.retry_seconds * 2 ** (failures - 1), MAX_RETRY_SECONDS)
                log.warning("config tracker: %s in %s: %s; trying again in %.0f s", kind, _named(where), exc, pause)
                self._stop.wait(pause)

    def _watch(self, where: Where, kind: str, since: str, tracked: set[tuple[str, str]]) -> None:
        api = self.api(where[0])
        events = api.watch(
            Call("watch", KINDS[kind], where[1]),
            WATCH_SECONDS,
            WATCH_SECONDS + api.timeout,  # silent that long past its own end: hung
            resource_version=since,
        )
        for event in events:
            if self._stop.is_set():
                return
            if event["type"] == "ERROR":  # 410 Gone: too old a resourceVersion; list again
                return
            if event["type"] in ("ADDED", "MODIFIED"):
                self.record(kind, event["object"], tracked)

    # ------------------------------------------------------------------------ threads

    def places(self) -> list[Where]:
        """Each (cluster, namespace) a service runs in."""
        return sorted({(s.cluster, s.namespace) for s in self.services()}, key=lambda w: (w[0] or "", w[1]))

    def kinds(self) -> list[str]:
        return [k for k in KINDS if self.prints.tracks(k)]

    def start(self) -> None:
        """A thread per cluster, namespace and tracked kind (once, however often it is called)."""
        if self._threads:
            return
        for where in self.places():
            for kind in self.kinds():
                thread = threading.Thread(
                    target=self.follow, args=(where, kind), name=f"config-{kind}-{_named(where)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        """Stop following; an open watch ends at its next event or its timeout (the threads are daemons)."""
        self._stop.set()

    def record_now(self, service: ServiceConfig) -> list[tuple[str, str]]:
        """Record what the service's ConfigMaps and Secrets hold now (before listing their versions, so the
        live one is there even if the watch has not run yet); their (kind, name), those missing left out (a
        Secret not tracked is listed, unread). Raises ``RollbackError`` in words when the cluster cannot be
        read."""
        present = []
        for kind, name in sorted(self.objects_of(service)):
            if not self.prints.tracks(kind):
                present.append((kind, name))
                continue
            try:
                obj = self.api(service.cluster).read(Call("get", KINDS[kind], service.namespace, name))
            except CallFailed as failed:
                if failed.status == 404:
                    continue
                raise explain(failed, "nothing was changed") from failed
            config_versions.record(self.db, kind, obj, self.prints)
            present.append((kind, name))
        return present

    def histories(self, service: ServiceConfig) -> list[config_versions.ConfigHistory]:
        """``/rollback config``: each object's recorded versions, the live ones recorded first (a Secret not
        tracked says why)."""
        return [
            config_versions.history(self.db, service.namespace, kind, name, self.prints)
            for kind, name in self.record_now(service)
        ]


def _named(where: Where) -> str:
    return f"{where[0]}/{where[1]}" if where[0] else where[1]
