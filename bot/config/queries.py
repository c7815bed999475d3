"""What a service is watched with: the signals, their thresholds, the verification analysis, the PromQL."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config.names import duration_seconds, promql_string

SIGNALS = ("error_rate", "http_5xx_rate", "success_rate", "latency_p95", "memory", "restarts")


@dataclass(frozen=True)
class Thresholds:
    """Automatic triggers (value + how long it must hold) and the severity rule limits."""

    error_rate: float = 0.05  # ratio of 4xx+5xx, above this ...
    error_rate_for: str = "5m"  # ... for this long
    success_rate: float = 0.95  # ratio of non-5xx, below this
    success_rate_for: str = "10m"
    latency_p95: float = 1.0  # seconds, above this
    latency_p95_for: str = "15m"
    memory: float = 0.90  # working set / limit, above this
    memory_for: str = "20m"
    restarts: int = 5  # container restarts, more than this ...
    restarts_window: str = "10m"  # ... within this window
    http_5xx_rate: float = 0.05  # verification after a rollback: a 5xx share above this fails a check
    http_5xx_critical: float = 0.50  # Critical: 5xx share above this
    http_5xx_high: float = 0.25  # High: "main API failing"
    latency_high: float = 5.0  # High: p95 seconds above this
    error_rate_medium: float = 0.10  # Medium: partial failure


@dataclass(frozen=True)
class Analysis:
    """Verification after a rollback: a check every ``interval`` for ``bake``; ``failure_limit`` bad checks fail it."""

    interval: str = "15s"
    bake: str = "1m"
    failure_limit: int = 2

    @property
    def interval_seconds(self) -> int:
        return duration_seconds(self.interval)

    @property
    def bake_seconds(self) -> int:
        return duration_seconds(self.bake)

    @property
    def checks(self) -> int:
        """How many passed checks make a bake: one per interval."""
        return max(1, -(-self.bake_seconds // self.interval_seconds))


def default_queries(restarts_window: str = "10m") -> dict[str, str]:
    """PromQL templates per signal over the metrics the services expose (docs/ARCHITECTURE.md).

    ``$selector`` picks the service's series and ``$window`` is the rate window, filled in
    per read (``ServiceConfig.query``): the service's ``window`` for a live read, the time
    since the rollout completed for verification. ``restarts`` counts over the restart
    trigger's own window. Values are ratios 0..1, seconds, or a count.
    """
    requests = "sum(rate(http_requests_total{$selector}[$window]))"

    def share(codes: str) -> str:
        return f"sum(rate(http_requests_total{{$selector,code=~{promql_string(codes)}}}[$window])) / {requests}"

    return {
        "error_rate": share("[45].."),
        "http_5xx_rate": share("5.."),
        "success_rate": f'sum(rate(http_requests_total{{$selector,code!~"5.."}}[$window])) / {requests}',
        "latency_p95": (
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))"
        ),
        "memory": (
            "max(max by (pod) (container_memory_working_set_bytes{$selector})"
            " / max by (pod) (container_spec_memory_limit_bytes{$selector}))"
        ),
        "restarts": f"sum(increase(kube_pod_container_status_restarts_total{{$selector}}[{restarts_window}]))",
    }
