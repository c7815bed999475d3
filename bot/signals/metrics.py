"""Prometheus reads: one answer per signal, read in parallel, never raising.

Metrics must never block a rollback: an unreachable Prometheus, a slow query, a bad
override query or a service without traffic never raise. Each read says which of the
three it was (a ``Reading``): a value, no data, or an error, because verification
treats "no data yet" (wait) differently from "Prometheus is down" (check by hand).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import requests
from prometheus_api_client import PrometheusConnect
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from bot import telemetry
from bot.config import SIGNALS, PrometheusAuth, ServiceConfig

log = logging.getLogger(__name__)

_LOWER_IS_WORSE = {"success_rate"}  # when a query returns several series, report the worst


@dataclass(frozen=True)
class Reading:
    """A value; or no data (``value`` and ``error`` both None); or an error (unreachable, bad query)."""

    value: float | None = None
    error: str | None = None

    @property
    def no_data(self) -> bool:
        return self.value is None and self.error is None


class MetricsReader:
    def __init__(self, url: str | None, timeout: float = 3.0, auth: PrometheusAuth | None = None) -> None:
        self.url = url.rstrip("/") if url else None
        self.timeout = timeout
        self.auth = auth or PrometheusAuth()
        self._client = _client(self.url, timeout, self.auth) if self.url else None

    def configured(self, service: ServiceConfig) -> bool:
        return bool(self.url)

    def source(self, service: ServiceConfig) -> str:
        return "Prometheus"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _query(self, service: ServiceConfig, signal: str, window: str | None = None) -> Reading:
        query = service.query(signal, window)
        if not query:
            log.warning("no query for %s of %s", signal, service.name)
            return Reading(error=f"no query for {signal}")
        try:
            # Prometheus' own timeout too, so a heavy query is abandoned server-side as well.
            result = self._client.custom_query(query, params={"timeout": f"{self.timeout:g}s"})
        except Exception as exc:  # any failure is an answer ("error"), never a crash mid-incident
            log.warning("prometheus read of %s for %s failed: %s", signal, service.name, exc)
            kind, words = self._describe(exc)
            telemetry.call_failed("prometheus", kind)
            return Reading(error=words)
        reading = _reading(result, signal, service.name)
        if reading.error:
            telemetry.call_failed("prometheus", "bad_answer")
        return reading

    def _describe(self, exc: Exception) -> tuple[str, str]:
        """The failure's kind (for the bot's metrics) and what went wrong, short enough for a message to people."""
        reason = getattr(exc.args[0] if exc.args else None, "reason", None)  # urllib3's, under requests'
        if isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError):
            return "timeout", f"{self.url} did not answer within {self.timeout:g} s"
        if isinstance(exc, requests.exceptions.SSLError):
            return "tls", (
                f"cannot verify the TLS certificate of {self.url}: set PROMETHEUS_CA_FILE to the CA that signed it"
            )
        if isinstance(exc, requests.ConnectionError):
            return "connect", f"cannot connect to {self.url}"
        status = re.search(r"HTTP Status Code (\d{3})", str(exc))
        if status and status.group(1) in ("401", "403"):
            return f"http_{status.group(1)}", (
                f"{self.url} refused the bot's credentials (HTTP {status.group(1)}): check PROMETHEUS_USERNAME "
                "and PROMETHEUS_PASSWORD, or PROMETHEUS_BEARER_TOKEN"
            )
        if status:
            return f"http_{status.group(1)}", f"{type(exc).__name__}: {exc}"[:300]
        return "error", f"{type(exc).__name__}: {exc}"[:300]

    def read_one(self, service: ServiceConfig, signal: str, window: str | None = None) -> Reading:
        """One signal over ``window`` (default: the service's window), e.g. for verification."""
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r} (expected one of {', '.join(SIGNALS)})")
        if not self.url:
            return Reading(error="PROMETHEUS_URL is not set")
        return self._query(service, signal, window)

    def read_range(
        self, service: ServiceConfig, signal: str, start: dt.datetime, end: dt.datetime, step: float
    ) -> list[tuple[dt.datetime, float]] | None:
        """The signal's worst value at each ``step`` from ``start`` to ``end`` (``query_range``); None when it
        cannot be read (no Prometheus, no query, an error): never raises."""
        query = service.query(signal)
        if not self.url or not query:
            return None
        try:
            result = self._client.custom_query_range(
                query, start_time=start, end_time=end, step=f"{step:g}s", params={"timeout": f"{self.timeout:g}s"}
            )
        except Exception as exc:
            log.warning("prometheus query_range of %s for %s failed: %s", signal, service.name, exc)
            telemetry.call_failed("prometheus", self._describe(exc)[0])
            return None
        worst = min if signal in _LOWER_IS_WORSE else max
        points: dict[float, list[float]] = {}
        for series in result if isinstance(result, list) else ():
            for at, value in series.get("values", ()):
                if not math.isnan(float(value)):
                    points.setdefault(float(at), []).append(float(value))
        return [(dt.datetime.fromtimestamp(at, dt.UTC), worst(v)) for at, v in sorted(points.items())]

    def read(self, service: ServiceConfig) -> dict[str, float | None]:
        """Every signal's value (None: unavailable), queried in parallel; a signal not read in time is None."""
        if not self.url:
            log.info("PROMETHEUS_URL is not set: every signal of %s is unavailable", service.name)
            return dict.fromkeys(SIGNALS)
        return read_all(lambda signal: self._query(service, signal), service.name, self.timeout + 1.0, "prometheus")


def read_all(read: Callable[[str], Reading], service: str, timeout: float, source: str) -> dict[str, float | None]:
    """Every signal's value through ``read``, in parallel; a signal not read within ``timeout`` is None."""
    values: dict[str, float | None] = dict.fromkeys(SIGNALS)
    pool = ThreadPoolExecutor(max_workers=len(SIGNALS), thread_name_prefix=source)
    futures = {pool.submit(read, signal): signal for signal in SIGNALS}
    done, late = wait(futures, timeout=timeout)
    pool.shutdown(wait=False, cancel_futures=True)  # a stuck socket must not hold the caller
    for future in done:
        values[futures[future]] = future.result().value
    for future in late:
        log.warning("%s read of %s for %s timed out", source, futures[future], service)
    return values


def _client(url: str, timeout: float, auth: PrometheusAuth) -> PrometheusConnect:
    """One client for every read (its session pools the connections; urllib3's pool is thread-safe).

    No retries: a read happens during an incident and must answer within ``timeout``.
    """
    session = requests.Session()
    session.verify = auth.ca_file or True
    if auth.username:
        session.auth = (auth.username, auth.password or "")
    headers = {"Authorization": f"Bearer {auth.bearer_token}"} if auth.bearer_token else None
    return PrometheusConnect(url=url, headers=headers, session=session, retry=Retry(total=0), timeout=timeout)


def _reading(result: object, signal: str, service: str) -> Reading:
    """The query's value: a scalar, or the worst of a vector's samples; no data if empty or NaN."""
    samples: list[float] = []
    try:
        if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
            samples = [float(result[1])]  # a scalar result: [time, "value"]
        elif isinstance(result, list):
            samples = [float(item["value"][1]) for item in result]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("unexpected prometheus result for %s of %s: %s (%r)", signal, service, exc, result)
        return Reading(error=f"unexpected answer from Prometheus ({exc})")
    samples = [s for s in samples if not math.isnan(s)]
    if not samples:
        log.info("no data for %s of %s", signal, service)
        return Reading()
    if len(samples) > 1:
        log.warning("%s of %s returned %d series; using the worst", signal, service, len(samples))
    return Reading(min(samples) if signal in _LOWER_IS_WORSE else max(samples))
