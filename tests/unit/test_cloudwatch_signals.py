"""CloudWatch signals, the pure parts: the catalog's ``signals: cloudwatch`` block (ARNs or dimensions, the region
from the options, file:line errors), the queries, and the rule that no datapoint is no data, never healthy."""

from __future__ import annotations

import textwrap

import pytest

from bot.config import ConfigError, Thresholds, load_catalog
from bot.config.cloudwatch import CloudWatchSource, dimension
from bot.providers.aws.cloudwatch import period_for, queries, value_of
from bot.signals.severity import Severity, assess

ELB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
LB, TG = "app/shop/50dc6c495c0c9188", "targetgroup/orders/73e2d6bc24d8a067"
SOURCE = CloudWatchSource("eu-west-1", LB, TG)


def catalog(tmp_path, extra: str):
    path = tmp_path / "services.yaml"
    path.write_text(
        "services:\n  orders:\n    strategy: aws-ecs\n    rollback_allowed: [U0ONCALL1]\n"
        "    options: {cluster: shop, service: orders, region: eu-west-1}\n"
        + textwrap.indent(textwrap.dedent(extra).strip() + "\n", "    ")
    )
    return path


def errors(tmp_path, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_catalog(catalog(tmp_path, extra))
    return [e.split(": ", 1)[1] for e in caught.value.errors]


def test_a_service_on_cloudwatch_names_its_alb_by_arn_or_dimension_and_takes_the_options_region(tmp_path):
    path = catalog(
        tmp_path, f"signals: cloudwatch\ncloudwatch:\n  load_balancer: {ELB}:loadbalancer/{LB}\n  target_group: {TG}"
    )
    service = load_catalog(path).services["orders"]
    assert service.signals == "cloudwatch"
    assert service.cloudwatch == CloudWatchSource("eu-west-1", LB, TG)
    assert load_catalog(catalog(tmp_path, "")).services["orders"].signals == "prometheus"


def test_a_wrong_cloudwatch_block_is_refused_with_what_is_expected(tmp_path):
    assert errors(tmp_path, "signals: cloudwatch") == [
        "services.orders.cloudwatch: missing (signals: cloudwatch reads it: load_balancer, target_group, region, "
        "profile)"
    ]
    found = errors(tmp_path, "signals: cloudwatch\ncloudwatch: {load_balancer: shop-alb, target_group: " + TG + "}")
    assert found[0].startswith("services.orders.cloudwatch.load_balancer: expected the ALB: its ARN, or its")
    found = errors(tmp_path, "signals: graphite")
    assert found == ["services.orders.signals: expected prometheus or cloudwatch, got 'graphite'"]
    found = errors(tmp_path, f"cloudwatch: {{load_balancer: {LB}, target_group: {TG}}}")
    assert found == ["services.orders.cloudwatch: only used with signals: cloudwatch; remove it, or set that"]


def test_dimensions_come_from_arns_and_other_arns_are_not_dimensions():
    assert dimension("load_balancer", f"{ELB}:loadbalancer/{LB}") == LB
    assert dimension("target_group", f"{ELB}:{TG}") == TG
    assert dimension("load_balancer", f"{ELB}:{TG}") is None
    assert dimension("target_group", "arn:aws:ecs:eu-west-1:123456789012:service/shop/orders") is None


def test_the_queries_ask_the_target_groups_counts_and_p95_over_one_whole_minute_period():
    asked = queries("http_5xx_rate", SOURCE, period_for(30))
    assert [q["MetricStat"]["Metric"]["MetricName"] for q in asked] == [
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
    ]
    assert {q["MetricStat"]["Period"] for q in asked} == {60} and period_for(61) == 120
    (p95,) = queries("latency_p95", SOURCE, 300)
    assert (p95["MetricStat"]["Stat"], p95["MetricStat"]["Metric"]["MetricName"]) == ("p95", "TargetResponseTime")


def test_no_datapoint_is_no_data_never_healthy():
    assert value_of("http_5xx_rate", {"requests": [], "target5xx": [], "elb5xx": []}) is None
    assert value_of("success_rate", {"requests": [0.0]}) is None
    assert value_of("latency_p95", {"p95": []}) is None
    assessment = assess({"http_5xx_rate": None, "latency_p95": None}, Thresholds())
    assert assessment.severity is Severity.MEDIUM
    assert "No signal could be read" in " ".join(assessment.reasons)


def test_requests_without_a_5xx_datapoint_are_no_errors_as_the_alb_reports_them():
    assert value_of("http_5xx_rate", {"requests": [600.0], "target5xx": [], "elb5xx": []}) == 0.0
    assert value_of("http_5xx_rate", {"requests": [400.0], "target5xx": [100.0], "elb5xx": [20.0]}) == 0.3
    assert value_of("success_rate", {"requests": [400.0], "target5xx": [100.0]}) == 0.75
    assert value_of("latency_p95", {"p95": [0.21]}) == 0.21
