"""CloudWatch datapoints written from the service simulator's traffic, where moto does not: moto keeps the
metrics it is sent and answers Sum, Average and the like from them, but nothing sends any (no ALB serves
traffic in moto) and it cannot answer a percentile (``p95``).

``CloudWatchPublisher`` (started by ``World(cloudwatch=True)`` only), once a second for each scenario service on
ECS: ``put_metric_data`` to moto of the ALB's ``RequestCount``, ``HTTPCode_Target_5XX_Count`` (only when not 0, as
the ALB reports it) and ``TargetResponseTime`` (a spread of response times as the traffic is now), in
``AWS/ApplicationELB`` with the service's LoadBalancer and TargetGroup dimensions (``dimensions``). It keeps the
response times it wrote, and answers a ``GetMetricData`` whose query asks a percentile from them, through the
front's hook, in the call's wire format (JSON 1.0 or smithy RPC v2 CBOR); every other query is moto's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable

from moto.core import cbor

from bot.sandbox.aws import AwsFront, client_for
from bot.sandbox.httpserver import Request, Response
from bot.sandbox.scenario import Scenario

log = logging.getLogger(__name__)

NAMESPACE = "AWS/ApplicationELB"
INTERVAL = 1.0  # real seconds between two writes (the simulator's traffic runs on real time)
KEEP = dt.timedelta(hours=1)


def dimensions(service: str) -> tuple[str, str]:
    """The sandbox ALB's ``LoadBalancer`` and ``TargetGroup`` dimensions for ``service`` (stable ids)."""
    digest = hashlib.sha256(service.encode()).hexdigest()
    return f"app/{service}-alb/{digest[:16]}", f"targetgroup/{service}/{digest[16:32]}"


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class CloudWatchPublisher:
    """Writes each ECS service's ALB metrics from ``simulators`` (service name -> ServiceSimulator)."""

    def __init__(self, scenario: Scenario, simulators: dict, moto_url: str) -> None:
        self.names = [svc.name for svc in scenario.services if svc.ecs]
        self.simulators = simulators
        self._cw = client_for(moto_url, "cloudwatch")
        self._last: dict[str, tuple[float, float]] = {}
        self._times: list[tuple[dt.datetime, tuple, list[float]]] = []  # what TargetResponseTime was sent
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.paused: set[str] = set()  # services whose datapoints stop (a test's "no data")
        self.written: dict[str, int] = dict.fromkeys(self.names, 0)  # writes with traffic, per service

    def install(self, front: AwsFront) -> None:
        front.hooks["cloudwatch:GetMetricData"] = self._get_metric_data

    def start(self) -> CloudWatchPublisher:
        for name in self.names:
            self._last[name] = self.simulators[name].served()
        self._thread = threading.Thread(target=self._run, name="sandbox-cloudwatch", daemon=True)
        self._thread.start()
        return self

    def wait_written(self, writes: int = 3, timeout: float = 30.0) -> None:
        """Until each service's metrics were written ``writes`` times (a reader then finds datapoints)."""
        deadline = time.monotonic() + timeout
        while min(self.written.values(), default=writes) < writes and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            for name in self.names:
                try:
                    self.publish(name)
                except Exception:  # a failed write is a gap in the metrics, as in AWS; the next one tries again
                    log.exception("could not write the CloudWatch metrics of %s", name)

    def publish(self, name: str) -> None:
        requests, errors = self.simulators[name].served()
        before, self._last[name] = self._last[name], (requests, errors)
        if name in self.paused:
            return
        count, failed = requests - before[0], errors - before[1]
        lb, tg = dimensions(name)
        dims = [{"Name": "LoadBalancer", "Value": lb}, {"Name": "TargetGroup", "Value": tg}]
        now = dt.datetime.now(dt.UTC)
        data = [{"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": now, "Value": count, "Unit": "Count"}]
        if failed > 0:
            data.append(
                {
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Dimensions": dims,
                    "Timestamp": now,
                    "Value": failed,
                    "Unit": "Count",
                }
            )
        times = self.simulators[name].latencies() if count > 0 else []
        if times:
            data.append(
                {
                    "MetricName": "TargetResponseTime",
                    "Dimensions": dims,
                    "Timestamp": now,
                    "Values": times,
                    "Unit": "Seconds",
                }
            )
        if count > 0:
            self._cw.put_metric_data(Namespace=NAMESPACE, MetricData=data)
            self.written[name] += 1
        with self._lock:
            self._times = [t for t in self._times if now - t[0] < KEEP]
            self._times.append((now, _key(dims), times))

    def _get_metric_data(self, req: Request, forward: Callable[[Request], Response]) -> Response:
        as_json = "json" in req.headers.get("content-type", "")  # awsJson1_0, or smithy RPC v2 CBOR
        asked = (json.loads(req.body) if as_json else cbor.loads(req.body)) if req.body else {}
        queries = asked.get("MetricDataQueries") or []
        stats = [((q.get("MetricStat") or {}).get("Stat") or "") for q in queries]
        if not any(s.startswith("p") for s in stats):
            return forward(req)
        start, end = _when(asked.get("StartTime")), _when(asked.get("EndTime"))
        results = []
        for query, stat in zip(queries, stats, strict=True):
            key = _key((query["MetricStat"].get("Metric") or {}).get("Dimensions") or [])
            with self._lock:
                values = [v for t, k, vs in self._times if k == key and start <= t < end for v in vs]
            found = [percentile(values, float(stat[1:]))] if values and stat.startswith("p") else []
            when = [start.timestamp() if as_json else start] if found else []
            results.append(
                {
                    "Id": query["Id"],
                    "Label": query.get("Label") or query["Id"],
                    "StatusCode": "Complete",
                    "Timestamps": when,
                    "Values": found,
                }
            )
        answer = {"MetricDataResults": results, "Messages": []}
        if as_json:
            return Response(200, json.dumps(answer).encode(), {"Content-Type": "application/x-amz-json-1.0"})
        return Response(200, cbor.dumps(answer), {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})


def _key(dims: list[dict]) -> tuple:
    return tuple(sorted((d["Name"], d["Value"]) for d in dims))


def _when(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)
