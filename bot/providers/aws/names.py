"""What AWS names look like, for the catalog's checks (``check-config``): regions, account ids, ARNs and the
names of ECS clusters, services and containers. Pure."""

from __future__ import annotations

import re
from typing import Any

REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
ACCOUNT = re.compile(r"\d{12}")
ARN = re.compile(r"arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
                 r"(?P<account>\d{12}|):(?P<resource>.+)")
ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")  # a cluster, service or container name


def is_region(v: Any) -> bool:
    return isinstance(v, str) and REGION.fullmatch(v) is not None


def parse_arn(v: Any) -> dict[str, str] | None:
    """The parts of an ARN (partition, service, region, account, resource), or None when ``v`` is not one."""
    found = ARN.fullmatch(v) if isinstance(v, str) else None
    return found.groupdict() if found else None


def ecs_arn(kind: str, v: Any) -> dict[str, str] | None:
    """An ECS ``cluster`` or ``service`` ARN's parts, with ``name`` (a service ARN may name its cluster:
    ``service/<cluster>/<name>``); None when ``v`` is not such an ARN."""
    parts = parse_arn(v)
    if not parts or parts["service"] != "ecs" or not parts["region"] or not parts["account"]:
        return None
    kind_, _, path = parts["resource"].partition("/")
    names = path.split("/")
    if kind_ != kind or not all(ECS_NAME.fullmatch(n) for n in names) or len(names) > (2 if kind == "service" else 1):
        return None
    return {**parts, "name": names[-1], "cluster": names[0] if len(names) == 2 else ""}


def is_ecs_ref(kind: str) -> tuple[Any, str]:
    """A ``CatalogReader.check`` pair: an ECS ``kind`` name or ARN."""
    return (
        lambda v: isinstance(v, str) and (ECS_NAME.fullmatch(v) is not None or ecs_arn(kind, v) is not None),
        f"an ECS {kind} name (letters, digits, '-' and '_', at most 255) or its ARN (arn:aws:ecs:<region>:<account>:"
        f"{kind}/...)",
    )


def short_name(v: str) -> str:
    """The name of an ECS cluster or service given as a name or an ARN."""
    return v.rsplit("/", 1)[-1] if v.startswith("arn:") else v
