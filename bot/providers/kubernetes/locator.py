"""Where a Kubernetes strategy's target runs: the one place that reads ``Target.locator`` for Kubernetes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.strategies.base import Target


@dataclass(frozen=True)
class Workload:
    """The namespace and workload (Deployment, StatefulSet) a target names, and its container ("": the first)."""

    namespace: str
    workload: str
    container: str = ""

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.workload}"


def locator(namespace: str, workload: str, container: str = "") -> dict[str, str]:
    """A Kubernetes ``Target.locator``."""
    return {"namespace": namespace, "workload": workload, "container": container}


def from_service(service: Any) -> dict[str, str]:
    """The locator of a catalog service (``bot.config.ServiceConfig``): its namespace, workload, container."""
    return locator(service.namespace, service.deployment, service.container or "")


ROLLOUT_STATUS = "`kubectl rollout status deployment/{workload} -n {namespace}`"  # a spec's ``check_by_hand``


def k8s(target: Target) -> Workload:
    """The Kubernetes parts of ``target``'s locator."""
    found = target.locator
    return Workload(found.get("namespace", ""), found.get("workload", ""), found.get("container") or "")


def k8s_target(
    service: str, namespace: str, workload: str, container: str = "", to_revision: int | None = None, **rest: Any
) -> Target:
    """A Target on Kubernetes (``rest``: ``options``, ``env_only``)."""
    return Target(service, locator(namespace, workload, container), to_revision, **rest)


def with_workload(target: Target, workload: str) -> Target:
    """``target`` on another workload of the same namespace (a colour's or the canary's Deployment)."""
    return replace(target, locator={**target.locator, "workload": workload})
