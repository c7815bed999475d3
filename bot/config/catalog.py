"""The services catalog (YAML), validated at start.

A typo in the catalog must stop the bot at start with a message naming the file, the line and the field,
not surface mid-incident as a silently defaulted threshold. So the catalog is read from yaml's node tree
(which keeps line numbers, ``CatalogReader``), every error is collected, and unknown keys are errors. A
strategy's own settings live under ``options:`` and are read by its spec's options class.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import yaml

from bot.config.backup import read_backup_job
from bot.config.cdn import read_cdn
from bot.config.cloudwatch import read_cloudwatch
from bot.config.database import read_database
from bot.config.deadlines import read_deadlines
from bot.config.detection import read_auto_rollback
from bot.config.escalation import read_service_escalation, with_default
from bot.config.names import valid_k8s_name
from bot.config.outbound import read_status_page, read_webhooks
from bot.config.permissions import ANYONE
from bot.config.queries import SIGNALS, Analysis, Thresholds
from bot.config.reader import (
    BOOL,
    CONTEXT,
    COUNT,
    DURATION_CHECK,
    INVALID,
    K8S,
    RATIO,
    SECONDS,
    URL,
    USER,
    CatalogReader,
    is_actor_or_anyone,
    is_channel,
    is_positive_int,
    is_query,
)
from bot.config.service import Catalog, ServiceConfig
from bot.config.settings import ConfigError
from bot.strategies import registry

_THRESHOLD_CHECKS = {
    f.name: (
        DURATION_CHECK
        if f.type == "str"
        else COUNT
        if f.type == "int"
        else SECONDS
        if f.name.startswith("latency")
        else RATIO
    )
    for f in fields(Thresholds)
}

_SERVICE_KEYS = {
    "namespace": "required: the Kubernetes namespace the service runs in",
    "cluster": "the kubeconfig context of the cluster it runs in (default: the kubeconfig's current context)",
    "deployment": "",
    "container": "",
    "strategy": "",
    "health_url": "",
    "owners": "",
    "rollback_allowed": "",
    "responders": "",
    "private_channel": "",
    "require_approval": "",
    "escalation": "",
    "db_migrations": "",
    "backup_job": "",
    "migration_runbook": "",
    "database": "its schema's version per release: {url_env: a read-only URL's variable, migrations: the tool}",
    "window": "",
    "queries": "",
    "thresholds": "",
    "analysis": "",
    "watch_minutes": "",
    "watch_failures": "",
    "auto_rollback": "",
    "auto_rollback_grace": "",
    "min_good_minutes": "",
    "flap_guard": "",
    "signals": "where the signals are read: prometheus (the default) or cloudwatch",
    "cloudwatch": "with signals: cloudwatch, the ALB's load_balancer and target_group (and region, profile)",
    "cdn": "",  # the CloudFront distribution invalidated after a successful switch (bot/config/cdn.py)
    "decision_deadlines": "",
    "update_every": "",
    "status_page": "{component: <Statuspage component id>}",
    "options": "",  # the strategy's own settings (older names: each spec's aliases, such as blue_green)
}
_SIMPLE_KEYS = {
    "namespace": K8S,
    "cluster": CONTEXT,
    "deployment": K8S,
    "container": K8S,
    "health_url": URL,
    "private_channel": BOOL,
    "require_approval": BOOL,
    "db_migrations": BOOL,
    "migration_runbook": URL,
    "window": DURATION_CHECK,
    "watch_minutes": (is_positive_int, "a positive whole number of minutes"),
    "watch_failures": (is_positive_int, "a positive whole number"),
    "auto_rollback_grace": DURATION_CHECK,
    "min_good_minutes": COUNT,
    "flap_guard": DURATION_CHECK,
}
_ANALYSIS_CHECKS = {
    "interval": DURATION_CHECK,
    "bake": DURATION_CHECK,
    "failure_limit": (is_positive_int, "a positive whole number"),
}
_TOP_KEYS = {"announcements_channel": "", "reminder_minutes": "", "escalation": "", "webhooks": "", "services": ""}


def service_keys() -> dict[str, str]:
    """The keys a service may have: the catalog's own, and every registered strategy's old option block names."""
    aliases = {alias: "" for spec in registry.specs().values() for alias in spec.aliases}
    return {**_SERVICE_KEYS, **aliases}


def _read_analysis(r: CatalogReader, node: yaml.Node, where: str) -> Analysis | object:
    given = r.mapping(node, where, _ANALYSIS_CHECKS) or {}
    values = {k: r.check(n, f"{where}.{k}", *_ANALYSIS_CHECKS[k]) for k, n in given.items()}
    if INVALID in values.values():
        return INVALID
    analysis = replace(Analysis(), **values)
    if analysis.interval_seconds > analysis.bake_seconds:
        where_node = given.get("interval", node)
        return r.error(where_node, f"{where}.interval", f"must not be longer than bake ({analysis.bake})")
    return analysis


def _people(r: CatalogReader, node: yaml.Node, where: str) -> Any:
    """``"*"`` (any person) or a list of Slack user ids and system actors (which may include ``"*"``)."""
    if isinstance(node, yaml.ScalarNode) and r.value(node) == ANYONE:
        return (ANYONE,)
    return r.strings(node, where, is_actor_or_anyone, 'Slack user ids, system:<name> or "*"')


def _read_strategy(r: CatalogReader, spec: dict[str, yaml.Node], where: str, kwargs: dict) -> None:
    """``strategy:``: one the registry can run; a planned one is refused with what is available."""
    if "strategy" not in spec or r.value(spec["strategy"]) is None:
        return
    available, planned = registry.available(), registry.planned()
    expected = " or ".join(available) + (f" (not available yet: {', '.join(planned)})" if planned else "")
    name = r.check(spec["strategy"], f"{where}.strategy", lambda v: v in available or v in planned, expected)
    kwargs["strategy"] = name
    if name in planned:
        r.error(
            spec["strategy"],
            f"{where}.strategy",
            f"the {name} strategy is not available yet (available: {', '.join(available)}); "
            "use one of those, or leave the service out of the catalog until it is",
        )


def _read_options(r: CatalogReader, spec: dict[str, yaml.Node], node: yaml.Node, where: str, kwargs: dict) -> None:
    """``options:`` (or the strategy's old block name): required by a strategy that has options and read by
    its options class; refused on another strategy (a block that is never used would mislead a reader)."""
    name = kwargs.get("strategy", "kubernetes")
    chosen = registry.specs().get(name) if isinstance(name, str) else None
    owners = {alias: s.name for s in registry.specs().values() for alias in s.aliases}
    mine = ("options", *(chosen.aliases if chosen else ()))
    for key in spec:
        if key in owners and key not in mine:
            r.error(spec[key], f"{where}.{key}", f"only used with strategy: {owners[key]}; remove it")
    given = [key for key in mine if key in spec]
    if chosen is None or chosen.planned:
        return
    if chosen.options is None:
        if given:
            r.error(spec[given[0]], f"{where}.options", f"strategy {name} takes no options; remove it")
        return
    if not given:
        r.error(node, f"{where}.options", f"missing (strategy {name} needs it; see config/services.example.yaml)")
        return
    if len(given) > 1:
        r.error(spec[given[1]], f"{where}.{given[1]}", f"{given[0]} is given too; keep one of them")
        return
    options = chosen.options.read(r, spec[given[0]], f"{where}.{given[0]}")
    if options is not None and options is not INVALID:
        kwargs["options"] = options


def _read_people(r: CatalogReader, spec: dict[str, yaml.Node], node: yaml.Node, where: str, kwargs: dict) -> None:
    """``owners``, ``rollback_allowed``, ``responders``; a warning when anyone may roll back."""
    if "owners" in spec:
        kwargs["owners"] = r.strings(spec["owners"], f"{where}.owners", *USER)
    for key in ("rollback_allowed", "responders"):
        if key in spec:
            kwargs[key] = _people(r, spec[key], f"{where}.{key}")
    allowed = kwargs.get("rollback_allowed", (ANYONE,))
    if allowed is not INVALID and ANYONE in allowed:
        r.warn(
            spec.get("rollback_allowed", node),
            f"{where}.rollback_allowed",
            f"anyone in the workspace may roll back {kwargs['name']}"
            f"{'' if 'rollback_allowed' in spec else ' (the default)'}; "
            "list who may, e.g. rollback_allowed: [U0ONCALL1, U0OWNER01]",
        )


def _read_signals(r: CatalogReader, spec: dict[str, yaml.Node], where: str, kwargs: dict) -> None:
    """``queries``, ``thresholds`` and ``analysis``: what the service is watched and verified with."""
    if "queries" in spec and r.value(spec["queries"]) is not None:
        queries = r.mapping(spec["queries"], f"{where}.queries", dict.fromkeys(SIGNALS, "")) or {}
        kwargs["queries"] = {
            k: r.check(n, f"{where}.queries.{k}", is_query, "a PromQL query") for k, n in queries.items()
        }
    if "thresholds" in spec and r.value(spec["thresholds"]) is not None:
        thresholds_node = spec["thresholds"]
        given = r.mapping(thresholds_node, f"{where}.thresholds", _THRESHOLD_CHECKS) or {}
        values = {k: r.check(n, f"{where}.thresholds.{k}", *_THRESHOLD_CHECKS[k]) for k, n in given.items()}
        if INVALID not in values.values():
            t = replace(Thresholds(), **values)
            if t.http_5xx_high > t.http_5xx_critical:
                message = "must not be above http_5xx_critical"
                r.error(thresholds_node, f"{where}.thresholds.http_5xx_high", message)
            kwargs["thresholds"] = t
    if "analysis" in spec and r.value(spec["analysis"]) is not None:
        kwargs["analysis"] = _read_analysis(r, spec["analysis"], f"{where}.analysis")


def _read_service(r: CatalogReader, name: str, node: yaml.Node, where: str) -> ServiceConfig | None:
    spec = r.mapping(node, where, service_keys())
    if spec is None:
        return None
    errors_before = len(r.errors)
    kwargs: dict[str, Any] = {"name": name}
    if _on_kubernetes(r, spec) and ("namespace" not in spec or r.value(spec["namespace"]) is None):
        r.error(node, f"{where}.namespace", f"missing ({_SERVICE_KEYS['namespace']})")
    for key, (ok, expected) in _SIMPLE_KEYS.items():
        if key in spec and r.value(spec[key]) is not None:
            kwargs[key] = r.check(spec[key], f"{where}.{key}", ok, expected)
    if "cluster" in spec and not _on_kubernetes(r, spec):
        r.error(spec["cluster"], f"{where}.cluster", "only a strategy on Kubernetes runs in a kubeconfig context")
    _read_strategy(r, spec, where, kwargs)
    _read_people(r, spec, node, where, kwargs)
    read_auto_rollback(r, spec, where, kwargs)
    read_deadlines(r, spec, where, kwargs)
    read_service_escalation(r, spec, where, kwargs)
    read_status_page(r, spec, where, kwargs)
    _read_signals(r, spec, where, kwargs)
    _read_options(r, spec, node, where, kwargs)
    read_cloudwatch(r, spec, node, where, kwargs)  # after the options: its region defaults to theirs
    if "database" in spec:
        read_database(r, spec["database"], f"{where}.database", kwargs)
    if "backup_job" in spec:
        read_backup_job(r, spec["backup_job"], f"{where}.backup_job", kwargs)
    if "cdn" in spec:
        read_cdn(r, spec["cdn"], f"{where}.cdn", kwargs)
    if len(r.errors) > errors_before:
        return None
    return ServiceConfig(**kwargs)


def _on_kubernetes(r: CatalogReader, spec: dict[str, yaml.Node]) -> bool:
    """Whether the service's strategy runs on Kubernetes, where ``namespace`` is required (an unknown strategy
    counts as one: its own error says what the strategies are)."""
    name = r.value(spec["strategy"]) if "strategy" in spec else None
    found = registry.specs().get(name if isinstance(name, str) else "kubernetes")
    return found is None or found.provider == "kubernetes"


def _check_clusters(r: CatalogReader, nodes: dict[str, yaml.Node], services: dict[str, ServiceConfig],
                    contexts: frozenset[str] | None) -> None:
    """Each ``cluster:`` a context of the kubeconfig (when one is given); a warning for one namespace in two
    clusters (the recorded ConfigMap / Secret versions are told apart by namespace and name only)."""
    clusters: dict[str, set[str | None]] = {}
    for name, service in services.items():
        clusters.setdefault(service.namespace, set()).add(service.cluster)
        if contexts is None or service.cluster is None or service.cluster in contexts:
            continue
        known = ", ".join(sorted(contexts)) or "none"
        node = next((v for k, v in nodes[name].value if k.value == "cluster"), nodes[name])
        r.error(node, f"services.{name}.cluster",
                f"the kubeconfig has no context {service.cluster!r} (its contexts: {known}); add it, or fix the name")
    for namespace, where in clusters.items():
        if namespace and len(where) > 1:
            first = next(n for n, s in services.items() if s.namespace == namespace)
            r.warn(nodes[first], f"services.{first}.namespace",
                   f"namespace {namespace!r} is used in more than one cluster: the config versions the bot records "
                   "are told apart by namespace and name, so keep ConfigMap and Secret names distinct across them")


def _read_catalog(r: CatalogReader, root: yaml.Node | None, contexts: frozenset[str] | None = None) -> Catalog | None:
    if root is None:
        r.errors.append(f"{r.path}:1: (top level): the file is empty; expected a 'services' mapping")
        return None
    top = r.mapping(root, "", _TOP_KEYS)
    if top is None:
        return None
    kwargs: dict[str, Any] = {}
    if "announcements_channel" in top and r.value(top["announcements_channel"]) is not None:
        expected = 'a channel such as "#incidents" or an id'
        kwargs["announcements_channel"] = r.check(
            top["announcements_channel"], "announcements_channel", is_channel, expected
        )
    if "reminder_minutes" in top:
        expected = "a positive whole number"
        kwargs["reminder_minutes"] = r.check(
            top["reminder_minutes"], "reminder_minutes", is_positive_int, expected
        )
    kwargs["webhooks"] = read_webhooks(r, top.get("webhooks"))
    services: dict[str, ServiceConfig] = {}
    nodes: dict[str, yaml.Node] = {}
    if "services" not in top:
        r.error(root, "services", "missing (a mapping of service name to its settings)")
    else:
        for name, node in (r.mapping(top["services"], "services", None) or {}).items():
            where = f"services.{name}"
            if not valid_k8s_name(name):
                r.error(node, where, f"the service name must be {K8S[1]}")
                continue
            service = _read_service(r, name, node, where)
            if service is not None:
                services[name], nodes[name] = service, node
    _check_clusters(r, nodes, services, contexts)
    services = with_default(r, top, services)
    if r.errors:
        return None
    return Catalog(services=services, warnings=tuple(r.warnings), **kwargs)


def _read_file(
    path: str | os.PathLike[str], contexts: frozenset[str] | None = None
) -> tuple[Catalog | None, list[str], list[str]]:
    """The catalog (None when there are errors), its error lines and its warning lines, each in file order."""
    r = CatalogReader(str(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [f"{path}: cannot read the services catalog: {exc.strerror or exc}"], []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [f"{path}:{line}: (yaml): {exc.problem or exc}"], []
    catalog = _read_catalog(r, root, contexts)

    def in_file_order(lines: list[str]) -> list[str]:  # as an editor shows them: each starts "<path>:<line>: "
        return sorted(lines, key=lambda e: int(e[len(r.path) + 1 :].split(":", 1)[0]))

    return catalog, in_file_order(r.errors), in_file_order(r.warnings)


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read and validate the catalog; raise ``ConfigError`` listing every problem (warnings do not raise)."""
    catalog, errors, _ = _read_file(path)
    if catalog is None:
        raise ConfigError(errors)
    return catalog


def kubeconfig_contexts(kubeconfig: str | None) -> tuple[frozenset[str] | None, list[str]]:
    """The context names of a KUBECONFIG (``:``-separated files, merged as kubectl does; None: no kubeconfig,
    nothing to check against), and the lines that say why a file could not be read."""
    if not kubeconfig:
        return None, []
    found: set[str] = set()
    problems = []
    for file in filter(None, kubeconfig.split(os.pathsep)):
        try:
            data = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{file}: cannot read the kubeconfig: {getattr(exc, 'strerror', None) or exc}")
            continue
        contexts = data.get("contexts") if isinstance(data, dict) else None
        found |= {c["name"] for c in contexts or [] if isinstance(c, dict) and isinstance(c.get("name"), str)}
    return frozenset(found), problems


def check_config(path: str | os.PathLike[str], kubeconfig: str | None = None) -> tuple[list[str], list[str]]:
    """The catalog's error and warning lines (both empty when it is fine), for ``rollback-bot check-config``;
    with ``kubeconfig``, each service's ``cluster:`` must be one of its contexts."""
    contexts, problems = kubeconfig_contexts(kubeconfig)
    catalog, errors, warnings = _read_file(path, contexts)
    if contexts is None and catalog and any(s.cluster for s in catalog.services.values()):
        warnings.append(f"{path}: warning: cluster: KUBECONFIG is not set, so no context was checked (without a "
                        "kubeconfig the bot reaches only the cluster it runs in)")
    return problems + errors, warnings
