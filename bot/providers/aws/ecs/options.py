"""``options:`` of an ``aws-ecs`` service: the cluster, the service and the region (names or ARNs, checked)."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from bot.config.reader import INVALID, CatalogReader
from bot.providers.aws.names import ECS_NAME, ecs_arn, is_ecs_ref, is_region, short_name

FIELDS = {
    "cluster": "the ECS cluster (a name or its ARN)",
    "service": "the ECS service (a name or its ARN)",
    "region": "the AWS region of the cluster, such as eu-west-1",
    "container": "the container whose image is the release (default: the first essential one)",
    "profile": "the AWS named profile that reaches the account (default: the bot's credential chain)",
}
REQUIRED = ("cluster", "service", "region")
CONTAINER = (lambda v: isinstance(v, str) and ECS_NAME.fullmatch(v) is not None, "an ECS container name")
PROFILE = (lambda v: isinstance(v, str) and v.strip() != "" and not any(c.isspace() for c in v), "a profile name")


@dataclass(frozen=True)
class EcsOptions:
    cluster: str
    service: str
    region: str
    container: str = ""
    profile: str = ""

    @property
    def cluster_name(self) -> str:
        return short_name(self.cluster)

    @property
    def service_name(self) -> str:
        return short_name(self.service)

    @property
    def where(self) -> str:
        """``ECS service shop/web (eu-west-1)``: how messages name it."""
        return f"ECS service {self.cluster_name}/{self.service_name} ({self.region})"

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> EcsOptions | None:
        given = r.mapping(node, where, FIELDS)
        if given is None:
            return None
        missing = [k for k in REQUIRED if k not in given]
        for key in missing:
            r.error(node, f"{where}.{key}", f"missing ({FIELDS[key]})")
        checks = {"cluster": is_ecs_ref("cluster"), "service": is_ecs_ref("service"), "container": CONTAINER,
                  "profile": PROFILE, "region": (is_region, "an AWS region such as eu-west-1")}
        values = {k: r.check(n, f"{where}.{k}", *checks[k]) for k, n in given.items()}
        if missing or INVALID in values.values():
            return None
        options = cls(**values)
        return options if _consistent(r, given, where, options) else None


def _consistent(r: CatalogReader, given: dict[str, yaml.Node], where: str, o: EcsOptions) -> bool:
    """An ARN's region is the options' region, and a service ARN that names its cluster names this one."""
    ok = True
    for key in ("cluster", "service"):
        arn = ecs_arn(key, getattr(o, key))
        if arn and arn["region"] != o.region:
            r.error(given[key], f"{where}.{key}", f"the ARN is in region {arn['region']}, not {o.region} (region)")
            ok = False
        if key == "service" and arn and arn["cluster"] and arn["cluster"] != o.cluster_name:
            r.error(given[key], f"{where}.service", f"the ARN names cluster {arn['cluster']}, not {o.cluster_name}")
            ok = False
    return ok
