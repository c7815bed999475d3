"""A service's ``cdn:`` block: the CloudFront distribution invalidated after a successful switch."""

from __future__ import annotations

import re
from typing import Any

import yaml

from bot.config.reader import DURATION_CHECK, INVALID, CatalogReader
from bot.strategies.options import Cdn

DISTRIBUTION = re.compile(r"E?[A-Z0-9]{12,14}")  # CloudFront's ids: E2QWRUHAPOMQZL


def _is_path(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("/") and len(v) <= 4096 and not any(c.isspace() for c in v)


CHECKS = {
    "distribution_id": (
        lambda v: isinstance(v, str) and DISTRIBUTION.fullmatch(v) is not None,
        "a CloudFront distribution id such as E2QWRUHAPOMQZL",
    ),
    "deadline": DURATION_CHECK,
    "profile": (lambda v: isinstance(v, str) and v.strip() != "" and not any(c.isspace() for c in v), "a profile name"),
}


def read_cdn(r: CatalogReader, node: yaml.Node, where: str, kwargs: dict) -> None:
    """``cdn: {distribution_id, paths (default ["/*"]), deadline, profile}`` into ``kwargs["cdn"]``."""
    given = r.mapping(node, where, {**CHECKS, "paths": ""})
    if given is None:
        return
    if "distribution_id" not in given:
        r.error(node, f"{where}.distribution_id", "missing (the CloudFront distribution's id)")
        return
    values = {k: r.check(n, f"{where}.{k}", *CHECKS[k]) for k, n in given.items() if k != "paths"}
    if "paths" in given:
        paths = r.strings(given["paths"], f"{where}.paths", _is_path, "paths starting with / (such as /*)")
        if paths != INVALID and not paths:
            paths = r.error(given["paths"], f"{where}.paths", 'must name at least one path (default: ["/*"])')
        values["paths"] = paths
    if INVALID not in values.values():
        kwargs["cdn"] = Cdn(**values)
