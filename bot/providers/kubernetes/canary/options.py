"""``options:`` of a canary service (its old name: ``canary:``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from bot.config.reader import DURATION_CHECK, INVALID, K8S, CatalogReader

AFTER_CANARY = ("scale_to_zero", "delete")
DEFAULT_STEPS = (75, 50, 25, 10, 0)
_CHECKS = {
    "stable": K8S,
    "canary": K8S,
    "virtual_service": K8S,
    "stable_route": K8S,
    "canary_route": K8S,
    "step_pause": DURATION_CHECK,
    "after": (lambda v: v in AFTER_CANARY, " or ".join(AFTER_CANARY)),
}


def _is_steps(v: Any) -> bool:
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 100 for x in v)
        and all(a > b for a, b in zip(v, v[1:], strict=False))
        and v[-1] == 0
    )


@dataclass(frozen=True)
class Canary:
    """A stable and a canary Deployment; the canary's share of traffic is stepped down to 0."""

    stable: str  # Deployment
    canary: str  # Deployment
    virtual_service: str = ""  # Istio weights; "" -> the replica counts split the traffic
    stable_route: str = ""  # the VirtualService destination (host or subset); "" -> the stable Deployment's name
    canary_route: str = ""
    steps: tuple[int, ...] = DEFAULT_STEPS  # canary weights in percent, down to 0
    step_pause: str = ""  # time between steps; "" -> the analysis interval
    after: str = "scale_to_zero"  # what happens to the canary at 0 %

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> Canary | None:
        given = r.mapping(node, where, {**_CHECKS, "steps": ""}) or {}
        values: dict[str, Any] = {k: r.check(n, f"{where}.{k}", *_CHECKS[k]) for k, n in given.items() if k != "steps"}
        for key in ("stable", "canary"):
            if key not in given:
                r.error(node, f"{where}.{key}", "missing (the Deployment's name)")
        if "steps" in given:
            steps = r.value(given["steps"])
            if not _is_steps(steps):
                r.error(given["steps"], f"{where}.steps", "expected falling canary weights (0-99) ending with 0")
                return None
            values["steps"] = tuple(steps)
        if INVALID in values.values() or "stable" not in values or "canary" not in values:
            return None
        return cls(**values)
