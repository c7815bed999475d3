"""``options:`` of an ``aws-alb`` service: the listener rule, the target group traffic goes back to, the region,
and how to move (all at once, or stepped down like a canary)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.config.reader import DURATION_CHECK, INVALID, CatalogReader
from bot.providers.aws.names import is_region, parse_arn

FIELDS = {
    "rule": "the listener rule's ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener-rule/app/...)",
    "stable": "the target group traffic goes back to (a name or its ARN)",
    "region": "the AWS region of the load balancer, such as eu-west-1",
    "steps": "the weights (%) of the target group being left, falling to 0; default [0]: all at once",
    "step_pause": "the time at each step; default: analysis.interval",
    "profile": "the AWS named profile that reaches the account (default: the bot's credential chain)",
}
REQUIRED = ("rule", "stable", "region")
TG_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")  # at most 32, no hyphen at either end


def rule_arn(v: Any) -> dict[str, str] | None:
    """A listener rule ARN's parts (``load_balancer`` among them), or None."""
    parts = parse_arn(v)
    if not parts or parts["service"] != "elasticloadbalancing" or not parts["region"] or not parts["account"]:
        return None
    path = parts["resource"].split("/")
    if len(path) != 6 or path[0] != "listener-rule" or path[1] not in ("app", "net"):
        return None
    return {**parts, "load_balancer": path[2], "id": path[5]}


def target_group_arn(v: Any) -> dict[str, str] | None:
    parts = parse_arn(v)
    if not parts or parts["service"] != "elasticloadbalancing" or not parts["region"]:
        return None
    path = parts["resource"].split("/")
    if len(path) != 3 or path[0] != "targetgroup" or not TG_NAME.fullmatch(path[1]):
        return None
    return {**parts, "name": path[1]}


def _is_steps(v: Any) -> bool:
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 100 for x in v)
        and all(a > b for a, b in zip(v, v[1:], strict=False))
        and v[-1] == 0
    )


CHECKS = {
    "rule": (lambda v: rule_arn(v) is not None, FIELDS["rule"]),
    "stable": (
        lambda v: isinstance(v, str) and (TG_NAME.fullmatch(v) is not None or target_group_arn(v) is not None),
        "a target group name (letters, digits and '-', at most 32) or its ARN",
    ),
    "region": (is_region, "an AWS region such as eu-west-1"),
    "steps": (_is_steps, "falling weights (0-99) ending with 0, such as [50, 0]"),
    "step_pause": DURATION_CHECK,
    "profile": (lambda v: isinstance(v, str) and v.strip() != "" and not any(c.isspace() for c in v), "a profile name"),
}


@dataclass(frozen=True)
class AlbOptions:
    rule: str
    stable: str
    region: str
    steps: tuple[int, ...] = (0,)
    step_pause: str = ""
    profile: str = ""

    @property
    def rule_name(self) -> str:
        """``search/…/a655fd6c``: the load balancer and the rule's id, how messages name the rule."""
        parts = rule_arn(self.rule) or {}
        return f"{parts.get('load_balancer', '?')}/{parts.get('id', '?')}"

    @property
    def where(self) -> str:
        return f"ALB listener rule {self.rule_name} ({self.region})"

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> AlbOptions | None:
        given = r.mapping(node, where, FIELDS)
        if given is None:
            return None
        missing = [k for k in REQUIRED if k not in given]
        for key in missing:
            r.error(node, f"{where}.{key}", f"missing ({FIELDS[key]})")
        values = {k: r.check(n, f"{where}.{k}", *CHECKS[k]) for k, n in given.items() if k != "steps"}
        if "steps" in given:
            steps = r.value(given["steps"])
            values["steps"] = (
                tuple(steps)
                if _is_steps(steps)
                else r.error(
                    given["steps"], f"{where}.steps", f"expected {CHECKS['steps'][1]}, got {r.got(given['steps'])}"
                )
            )
        if missing or INVALID in values.values():
            return None
        options = cls(**values)
        for key, arn in (("rule", rule_arn(options.rule)), ("stable", target_group_arn(options.stable))):
            if arn and arn["region"] != options.region:
                r.error(given[key], f"{where}.{key}", f"the ARN is in region {arn['region']}, not {options.region}")
                return None
        return options
