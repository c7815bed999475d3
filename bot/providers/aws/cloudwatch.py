"""Signals from CloudWatch: an ALB target group's ``HTTPCode_Target_5XX_Count`` (with the load balancer's own
``HTTPCode_ELB_5XX_Count``), ``RequestCount`` and ``TargetResponseTime`` (p95), read with ``get_metric_data``.

For a service on ECS behind an ALB that has no Prometheus (the catalog's ``signals: cloudwatch``). A read gives
(value, error): a value; no data (both None: CloudWatch has no datapoint in the window, which is never healthy);
or an error in words (``AwsError``'s: the resource and the permission). The ALB reports a count only when it is
not zero, so with requests counted and no 5xx datapoint the 5xx rate is 0; without a ``RequestCount``
datapoint nothing is known. Memory and restarts are not ALB metrics: they stay unavailable.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from bot.config.cloudwatch import NAMESPACE, CloudWatchSource
from bot.providers.aws.errors import AwsError, call

IAM = ("cloudwatch:GetMetricData",)  # what the signals read; docs/aws-iam-policy.json lists it
READ = ("error_rate", "http_5xx_rate", "success_rate", "latency_p95")  # the signals an ALB has
MINUTE = 60


def queries(signal: str, source: CloudWatchSource, period: int) -> list[dict[str, Any]]:
    """The ``MetricDataQueries`` of one signal (pure)."""

    def stat(qid: str, metric: str, how: str, target: bool = True) -> dict[str, Any]:
        metric_of = {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": source.dimensions(target)}
        return {"Id": qid, "MetricStat": {"Metric": metric_of, "Period": period, "Stat": how}, "ReturnData": True}

    if signal == "latency_p95":
        return [stat("p95", "TargetResponseTime", "p95")]
    return [
        stat("requests", "RequestCount", "Sum"),
        stat("target5xx", "HTTPCode_Target_5XX_Count", "Sum"),
        stat("elb5xx", "HTTPCode_ELB_5XX_Count", "Sum", target=False),
    ]


def value_of(signal: str, found: dict[str, list[float]]) -> float | None:
    """The signal from the datapoints of each query (its id -> values): None when there is no data (pure)."""
    values = {qid: [v for v in vs if v is not None and not math.isnan(v)] for qid, vs in found.items()}
    if signal == "latency_p95":
        return max(values["p95"]) if values.get("p95") else None
    requests = sum(values.get("requests") or ())
    if not values.get("requests") or requests <= 0:
        return None  # no request counted: nothing is known, never "0% errors"
    errors = sum(values.get("target5xx") or ()) + sum(values.get("elb5xx") or ())
    rate = min(1.0, errors / requests)
    return 1.0 - rate if signal == "success_rate" else rate


def period_for(seconds: float) -> int:
    """One period over the whole window, in whole minutes as CloudWatch's standard resolution wants."""
    return max(MINUTE, math.ceil(seconds / MINUTE) * MINUTE)


class CloudWatchMetrics:
    READ = READ

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    def read(self, source: CloudWatchSource, signal: str, seconds: float) -> tuple[float | None, str | None]:
        """``signal`` over the last ``seconds``: (value, None), (None, None) for no data, or (None, why)."""
        if signal not in READ:
            return None, f"{signal} is not an ALB metric in CloudWatch"
        end = dt.datetime.now(dt.UTC)
        client = self.clients.aws(source.profile or None, source.region).client("cloudwatch")
        try:
            answer = call(
                client,
                "get_metric_data",
                source.where,
                "the signal is unavailable",
                MetricDataQueries=queries(signal, source, period_for(seconds)),
                StartTime=end - dt.timedelta(seconds=seconds),
                EndTime=end,
            )
        except AwsError as exc:  # short and the permission first: a card clips a long reason
            if exc.kind == "denied":
                return None, f"grant `{IAM[0]}` to the bot's IAM role: AWS refused it on {source.where}"
            return None, str(exc)
        found = {r["Id"]: list(r.get("Values") or ()) for r in answer.get("MetricDataResults") or ()}
        return value_of(signal, found), None
