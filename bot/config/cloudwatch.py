"""The catalog's ``signals`` and ``cloudwatch`` keys: where a service's signals are read (read by ``catalog.py``).

``signals: prometheus`` (the default) reads the PromQL queries; ``signals: cloudwatch`` reads the ALB target
group's metrics from CloudWatch instead (``bot.providers.aws.cloudwatch``), as named by
``cloudwatch: {load_balancer, target_group, region, profile}``; ``region`` and ``profile`` default to the
strategy's options (an ``aws-ecs`` service's region).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from bot.config.reader import INVALID, CatalogReader

SOURCES = ("prometheus", "cloudwatch")
NAMESPACE = "AWS/ApplicationELB"
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
ELB_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:elasticloadbalancing:[a-z0-9-]+:\d{12}:(?P<resource>.+)")
FIELDS = {
    "load_balancer": "the ALB: its ARN, or its CloudWatch dimension app/<name>/<id>",
    "target_group": "the target group: its ARN, or its CloudWatch dimension targetgroup/<name>/<id>",
    "region": "the AWS region of the load balancer (default: the strategy's options.region)",
    "profile": "the AWS named profile that reaches the account (default: the strategy's, or the credential chain)",
}


@dataclass(frozen=True)
class CloudWatchSource:
    """Where a service's signals are in CloudWatch: the ALB's dimensions in ``region``, through ``profile``."""

    region: str
    load_balancer: str  # app/<name>/<id>
    target_group: str  # targetgroup/<name>/<id>
    profile: str = ""

    @property
    def where(self) -> str:
        return f"CloudWatch {NAMESPACE} {self.target_group} of {self.load_balancer} ({self.region})"

    def dimensions(self, target: bool = True) -> list[dict[str, str]]:
        dims = [{"Name": "LoadBalancer", "Value": self.load_balancer}]
        return dims + ([{"Name": "TargetGroup", "Value": self.target_group}] if target else [])


def dimension(kind: str, value: object) -> str | None:
    """The ``LoadBalancer`` (``kind`` load_balancer) or ``TargetGroup`` dimension of a name or an ARN:
    ``app/shop/50dc6c495c0c9188``, ``targetgroup/web/73e2d6bc24d8a067``; None when ``value`` is neither."""
    if not isinstance(value, str):
        return None
    arn = ELB_ARN.fullmatch(value)
    if arn:
        value = arn["resource"].removeprefix("loadbalancer/") if kind == "load_balancer" else arn["resource"]
    parts = value.split("/")
    head = "app" if kind == "load_balancer" else "targetgroup"
    ok = len(parts) == 3 and parts[0] == head and 0 < len(parts[1]) <= 32 and parts[2].isalnum()
    return value if ok else None


def read_cloudwatch(r: CatalogReader, spec: dict[str, yaml.Node], node: yaml.Node, where: str, kwargs: dict) -> None:
    """``signals`` and, with ``signals: cloudwatch``, its ``cloudwatch`` block (after the options are read)."""
    chosen = "prometheus"
    if "signals" in spec and r.value(spec["signals"]) is not None:
        chosen = r.check(spec["signals"], f"{where}.signals", lambda v: v in SOURCES, " or ".join(SOURCES))
        kwargs["signals"] = chosen
    block = spec.get("cloudwatch")
    if chosen != "cloudwatch":
        if block is not None and chosen is not INVALID:
            r.error(block, f"{where}.cloudwatch", "only used with signals: cloudwatch; remove it, or set that")
        return
    if block is None:
        r.error(node, f"{where}.cloudwatch", f"missing (signals: cloudwatch reads it: {', '.join(FIELDS)})")
        return
    given = r.mapping(block, f"{where}.cloudwatch", FIELDS)
    if given is None:
        return
    options = kwargs.get("options")
    values = {"region": getattr(options, "region", None), "profile": getattr(options, "profile", "") or ""}
    for key in ("load_balancer", "target_group"):
        if key not in given:
            r.error(block, f"{where}.cloudwatch.{key}", f"missing ({FIELDS[key]})")
        else:
            values[key] = r.check(
                given[key], f"{where}.cloudwatch.{key}", lambda v, k=key: dimension(k, v), FIELDS[key]
            )
    if "region" in given:
        is_region = (
            lambda v: isinstance(v, str) and REGION.fullmatch(v) is not None,
            "an AWS region such as eu-west-1",
        )
        values["region"] = r.check(given["region"], f"{where}.cloudwatch.region", *is_region)
    elif not values["region"]:
        r.error(block, f"{where}.cloudwatch.region", f"missing ({FIELDS['region']})")
    if "profile" in given:
        values["profile"] = r.check(
            given["profile"],
            f"{where}.cloudwatch.profile",
            lambda v: isinstance(v, str) and v.strip() != "" and not any(c.isspace() for c in v),
            "a profile name",
        )
    if INVALID in values.values() or not {"load_balancer", "target_group"} <= set(values) or not values["region"]:
        return
    dims = {key: dimension(key, values.pop(key)) for key in ("load_balancer", "target_group")}
    kwargs["cloudwatch"] = CloudWatchSource(**dims, **values)
