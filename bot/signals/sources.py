"""Every service's signals behind one interface (``read``, ``read_one``): Prometheus's queries, or for a service
with ``signals: cloudwatch`` its ALB's metrics in CloudWatch (``bot.providers.aws.cloudwatch``).

Both answer with ``Reading``s and never raise: a value, no data, or an error in words. No data is never healthy.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from bot.config import SIGNALS, ServiceConfig
from bot.config.names import duration_seconds
from bot.signals.metrics import MetricsReader, Reading, read_all

log = logging.getLogger(__name__)
READ_TIMEOUT = 10.0  # seconds for every signal of a live read (severity, the watch); one not read is unavailable


class Signals:
    """What the incidents, the watch and the analysis read; ``clients`` reach AWS (``Clients.aws``)."""

    def __init__(self, prometheus: MetricsReader, clients: Any) -> None:
        self.prometheus = prometheus
        self.clients = clients
        self._cloudwatch: Any = None

    @property
    def url(self) -> str | None:
        return self.prometheus.url

    @staticmethod
    def on_cloudwatch(service: ServiceConfig) -> bool:
        return service.signals == "cloudwatch" and service.cloudwatch is not None

    def source(self, service: ServiceConfig) -> str:
        """How messages name where the signals come from."""
        return "CloudWatch" if self.on_cloudwatch(service) else "Prometheus"

    def configured(self, service: ServiceConfig) -> bool:
        return self.on_cloudwatch(service) or self.prometheus.configured(service)

    def read_one(self, service: ServiceConfig, signal: str, window: str | None = None) -> Reading:
        if not self.on_cloudwatch(service):
            return self.prometheus.read_one(service, signal, window)
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r} (expected one of {', '.join(SIGNALS)})")
        if signal not in self._reader().READ:
            return Reading(error=f"CloudWatch has no {signal} for an ALB target group")  # memory, restarts
        value, error = self._reader().read(service.cloudwatch, signal, duration_seconds(window or service.window))
        if error:
            log.warning("cloudwatch read of %s for %s failed: %s", signal, service.name, error)
        elif value is None:
            log.info("no CloudWatch data for %s of %s", signal, service.name)
        return Reading(value=value, error=error)

    def read(self, service: ServiceConfig) -> dict[str, float | None]:
        """Every signal's value (None: unavailable)."""
        if not self.on_cloudwatch(service):
            return self.prometheus.read(service)
        return read_all(lambda signal: self.read_one(service, signal), service.name, READ_TIMEOUT, "cloudwatch")

    def read_range(
        self, service: ServiceConfig, signal: str, start: dt.datetime, end: dt.datetime, step: float
    ) -> list[tuple[dt.datetime, float]] | None:
        """The signal over time, for the first-breach search; None for a service on CloudWatch (not searched:
        the postmortem then takes its detection time from the alert or the first assessment)."""
        if self.on_cloudwatch(service):
            return None
        return self.prometheus.read_range(service, signal, start, end, step)

    def _reader(self) -> Any:
        if self._cloudwatch is None:  # boto3 costs start-up time a bot without CloudWatch signals does not need
            from bot.providers.aws.cloudwatch import CloudWatchMetrics

            self._cloudwatch = CloudWatchMetrics(self.clients)
        return self._cloudwatch

    def close(self) -> None:
        self.prometheus.close()
