"""The catalog blocks of the traffic strategies (``blue_green:``, ``canary:``), as plain values.

They travel inside ``Target.options`` (a dict, so a run stored as JSON carries them) and are
read back with ``from_options``; the catalog validates them (``bot.config``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

AFTER_SWITCH = ("keep", "scale_to_zero", "delete")
AFTER_CANARY = ("scale_to_zero", "delete")
DEFAULT_STEPS = (75, 50, 25, 10, 0)


@dataclass(frozen=True)
class BlueGreen:
    """Two Deployments ("colours") behind one Service whose selector picks the live one."""

    colours: dict[str, str]  # selector value -> Deployment, e.g. {"blue": "storefront-blue", ...}
    service: str = ""  # the Service whose selector switches; "" -> the service's name
    selector_key: str = "version"
    virtual_service: str = ""  # an Istio VirtualService routing the host by subset (named after the colour)
    after_switch: str = "keep"  # what happens to the bad colour once the good one is verified
    ready_timeout: str = "5m"  # how long the idle colour may take to become ready


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


@dataclass(frozen=True)
class ConfigRollback:
    """A Deployment whose bad change is its ConfigMap: restore a recorded version, then ``rollout restart``."""

    configmap: str  # the ConfigMap restored (its versions are recorded by the config tracker)
    secrets: tuple[str, ...] = ()  # Secrets tracked too (key names and hashes only); restored from another Secret


@dataclass(frozen=True)
class BackupJob:
    """A service's ``backup_job``: run before a rollback that may cross database migrations."""

    image: str
    command: tuple[str, ...]
    namespace: str | None = None  # None: the workload's namespace
    deadline: str = "10m"


def to_options(block: BlueGreen | Canary | ConfigRollback | None) -> dict[str, Any]:
    return dataclasses.asdict(block) if block else {}


def from_options(cls: type, options: dict[str, Any]) -> Any:
    """The block back from a Target's options (lists from JSON become tuples)."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if k in names}
    return cls(**values)
