"""The catalog's YAML node tree walked with line numbers: every problem becomes a ``file:line: field: message``.

Strategy options (``StrategySpec.options``) read their own block with the same ``CatalogReader``, so their
errors look like the rest of the catalog's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from bot.config.names import CHANNEL, DURATION, SYSTEM_ACTOR, USER_ID, valid_k8s_name
from bot.config.permissions import ANYONE

INVALID = object()


class CatalogReader:
    """Walks the YAML node tree, converting values and collecting ``file:line: field: message`` errors."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self._loader = yaml.SafeLoader("")

    def error(self, node: yaml.Node, where: str, message: str) -> object:
        self.errors.append(f"{self.path}:{node.start_mark.line + 1}: {where or '(top level)'}: {message}")
        return INVALID

    def warn(self, node: yaml.Node, where: str, message: str) -> None:
        """Something allowed but risky: ``check-config`` shows it, the bot still starts."""
        self.warnings.append(f"{self.path}:{node.start_mark.line + 1}: warning: {where}: {message}")

    def value(self, node: yaml.Node) -> Any:
        return self._loader.construct_object(node, deep=True)

    def got(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return repr(self.value(node))

    def mapping(
        self, node: yaml.Node, where: str, allowed: Mapping[str, str] | None
    ) -> dict[str, yaml.Node] | None:
        """Keys -> value nodes; ``allowed`` (key -> description) makes unknown keys errors."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, where, f"expected a mapping, got {self.got(node)}")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            sub = f"{where}.{key}" if where else str(key)
            if not isinstance(key, str):
                self.error(
                    key_node, where or "(top level)", f"keys must be strings, got {self.got(key_node)}"
                )
            elif key in out:
                self.error(key_node, sub, "duplicate key")
            elif allowed is not None and key not in allowed:
                self.error(key_node, sub, f"unknown key (expected one of: {', '.join(allowed)})")
            else:
                out[key] = value_node
        return out

    def check(self, node: yaml.Node, where: str, ok: Callable[[Any], bool], expected: str) -> Any:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else INVALID
        if value is INVALID or not ok(value):
            return self.error(node, where, f"expected {expected}, got {self.got(node)}")
        return value

    def strings(self, node: yaml.Node, where: str, ok: Callable[[Any], bool], expected: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            return self.error(node, where, f"expected a list of {expected}, got {self.got(node)}")
        items = [self.check(item, f"{where}[{i}]", ok, expected) for i, item in enumerate(node.value)]
        return INVALID if INVALID in items else tuple(items)


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_url(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"https?://[^\s/]+(/\S*)?", v) is not None


def is_user(v: Any) -> bool:
    return isinstance(v, str) and USER_ID.fullmatch(v) is not None


def is_duration(v: Any) -> bool:
    return isinstance(v, str) and DURATION.fullmatch(v) is not None


def is_channel(v: Any) -> bool:
    return isinstance(v, str) and CHANNEL.fullmatch(v) is not None


def is_query(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def is_actor_or_anyone(v: Any) -> bool:
    """A Slack user id, a system actor (``system:auto-rollback``) or ``"*"`` (any person)."""
    return v == ANYONE or is_user(v) or (isinstance(v, str) and SYSTEM_ACTOR.fullmatch(v) is not None)


def is_positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def is_context(v: Any) -> bool:
    """A kubeconfig context name: any printable text without spaces (``gke_proj_zone_name``, an EKS ARN)."""
    return isinstance(v, str) and re.fullmatch(r"[^\s]{1,253}", v) is not None and v.isprintable()


def is_label_value(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", v) is not None


# (predicate, what was expected): the pairs ``CatalogReader.check`` takes
Check = tuple[Callable[[Any], bool], str]
K8S: Check = (valid_k8s_name, "a Kubernetes name (lowercase letters, digits and '-', at most 63 characters)")
DURATION_CHECK: Check = (is_duration, "a duration such as 5m")
RATIO: Check = (lambda v: is_number(v) and 0 <= v <= 1, "a number between 0 and 1")
SECONDS: Check = (lambda v: is_number(v) and v > 0, "a positive number of seconds")
COUNT: Check = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number (0 or more)")
BOOL: Check = (lambda v: isinstance(v, bool), "true or false")
USER: Check = (is_user, "a Slack user id such as U0123ABCD")
URL: Check = (is_url, "an http:// or https:// URL")
CONTEXT: Check = (is_context, "the name of a context of the bot's kubeconfig (no spaces)")

