"""The runbook's automatic triggers as Prometheus alerting rules, built from the catalog's thresholds.

One source of truth: the ``Thresholds`` (value and ``*_for``) the bot reads are the ones Prometheus alerts on.
``deploy/prometheus/rollback-bot.rules.yml`` is ``rules_yaml()`` for the defaults (a test keeps them equal),
and ``rollback-bot alert-rules`` prints the rules for a catalog: services whose thresholds or ``window``
differ get their own group, the rest share the default one. The sandbox builds its rules with the same
function and short ``*_for`` (its own catalog), so the production defaults are never shortened.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from bot.config.names import promql_string
from bot.config.queries import Thresholds
from bot.config.service import Catalog

DEFAULTS = Thresholds()
GROUP_BY = "service, namespace"  # the labels every alert carries: the bot maps ``service`` to the catalog


@dataclass(frozen=True)
class Trigger:
    alert: str
    signal: str
    expr: str
    compare: str  # "> value" or "< value"
    duration: str  # ``for:`` ("0s": the expression's own window is the duration)
    summary: str


def _braces(*matchers: str) -> str:
    given = ",".join(m for m in matchers if m)
    return "{" + given + "}" if given else ""


def triggers(t: Thresholds, window: str, matcher: str = "") -> tuple[Trigger, ...]:
    """The five runbook triggers over the metrics the services expose (docs/ARCHITECTURE.md)."""
    sel = _braces(matcher)
    total = f"sum by ({GROUP_BY}) (rate(http_requests_total{sel}[{window}]))"

    def share(codes: str) -> str:
        return f"sum by ({GROUP_BY}) (rate(http_requests_total{_braces(matcher, codes)}[{window}])) / {total}"

    def per_pod(metric: str) -> str:
        return f"max by ({GROUP_BY}, pod) ({metric}{sel})"

    svc = "{{ $labels.service }}"
    return (
        Trigger(
            "HighErrorRate",
            "error_rate",
            share('code=~"[45].."'),
            f"> {t.error_rate:g}",
            t.error_rate_for,
            svc + ": {{ $value | humanizePercentage }} of requests fail (4xx/5xx)",
        ),
        Trigger(
            "LowSuccessRate",
            "success_rate",
            share('code!~"5.."'),
            f"< {t.success_rate:g}",
            t.success_rate_for,
            svc + ": only {{ $value | humanizePercentage }} of requests succeed (no 5xx)",
        ),
        Trigger(
            "HighLatencyP95",
            "latency_p95",
            f"histogram_quantile(0.95, sum by ({GROUP_BY}, le) "
            f"(rate(http_request_duration_seconds_bucket{sel}[{window}])))",
            f"> {t.latency_p95:g}",
            t.latency_p95_for,
            svc + ": p95 latency {{ $value | humanize }}s",
        ),
        Trigger(
            "HighMemory",
            "memory",
            f"max by ({GROUP_BY}) ({per_pod('container_memory_working_set_bytes')}"
            f" / {per_pod('container_spec_memory_limit_bytes')})",
            f"> {t.memory:g}",
            t.memory_for,
            svc + ": memory at {{ $value | humanizePercentage }} of the limit",
        ),
        Trigger(
            "FrequentRestarts",
            "restarts",
            f"sum by ({GROUP_BY}) (increase(kube_pod_container_status_restarts_total{sel}[{t.restarts_window}]))",
            f"> {t.restarts}",
            "0s",
            svc + ": {{ $value | humanize }} container restarts in " + t.restarts_window,
        ),
    )


def _selector(services: tuple[str, ...], exclude: bool) -> str:
    if not services:
        return ""
    alternatives = "|".join(services)  # catalog names are Kubernetes names: no regex metacharacters
    return f"service{'!~' if exclude else '=~'}{promql_string(alternatives)}"


def group(name: str, t: Thresholds, window: str, services: tuple[str, ...] = (), exclude: bool = False) -> dict:
    """One rule group: the triggers for ``services`` (none: every service; ``exclude``: all but those). A
    service's own group labels its rules ``thresholds: <service>`` (promtool refuses two rules alike)."""
    rules = []
    for trig in triggers(t, window, _selector(services, exclude)):
        rule: dict = {"alert": trig.alert, "expr": f"{trig.expr} {trig.compare}"}
        if trig.duration != "0s":
            rule["for"] = trig.duration
        rule["labels"] = {"severity": "page", "signal": trig.signal, "source": "rollback-bot"}
        if services and not exclude:
            rule["labels"]["thresholds"] = "-".join(services)
        held = f"for {trig.duration}" if trig.duration != "0s" else f"within {t.restarts_window}"
        rule["annotations"] = {"summary": trig.summary, "description": f"{trig.signal} {trig.compare} {held}"}
        rules.append(rule)
    return {"name": name, "rules": rules}


@dataclass(frozen=True)
class Watched:
    """What the rules need of a catalog service."""

    name: str
    thresholds: Thresholds
    window: str


def watched(catalog: Catalog) -> tuple[Watched, ...]:
    return tuple(Watched(s.name, s.thresholds, s.window) for s in catalog.services.values())


def rules(services: tuple[Watched, ...] = (), defaults: Thresholds = DEFAULTS, window: str = "5m") -> dict:
    """The rules file: a group per service whose settings differ from the defaults, one group for the rest."""
    own = tuple(s for s in services if (s.thresholds, s.window) != (defaults, window))
    groups = [group("rollback-bot-triggers", defaults, window, tuple(s.name for s in own), exclude=True)]
    groups += [group(f"rollback-bot-triggers-{s.name}", s.thresholds, s.window, (s.name,)) for s in own]
    return {"groups": groups}


HEADER = (
    "# The runbook's automatic triggers, from the catalog's default thresholds (bot/config/alert_rules.py).\n"
    "# Generated: `rollback-bot alert-rules --defaults`; `rollback-bot alert-rules` gives the rules for your\n"
    "# catalog (a service with its own thresholds gets its own group). Alertmanager sends them to the bot's\n"
    "# POST /alerts/alertmanager (deploy/alertmanager/alertmanager.yml).\n"
)


def rules_yaml(services: tuple[Watched, ...] = (), defaults: Thresholds = DEFAULTS, window: str = "5m") -> str:
    return HEADER + yaml.safe_dump(rules(services, defaults, window), sort_keys=False, width=1000)
