"""Where a Kubernetes strategy's target runs: the one place that reads ``Target.locator`` for Kubernetes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.strategies.base import Target
from bot.strategies.registry import BuildContext


@dataclass(frozen=True)
class Workload:
    """The namespace and workload (Deployment, StatefulSet) a target names, and its container ("": the first)."""

    namespace: str
    workload: str
    container: str = ""
    cluster: str | None = None  # the kubeconfig context (None: the current one)

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.workload}"


def locator(namespace: str, workload: str, container: str = "", cluster: str | None = None) -> dict[str, str]:
    """A Kubernetes ``Target.locator`` (``cluster`` only when the service names one: plans stored before keep
    comparing equal)."""
    found = {"namespace": namespace, "workload": workload, "container": container}
    return {**found, "cluster": cluster} if cluster else found


def from_service(service: Any) -> dict[str, str]:
    """The locator of a catalog service (``bot.config.ServiceConfig``): its namespace, workload, container, and
    its cluster when it names one."""
    return locator(service.namespace, service.deployment, service.container or "", service.cluster)


ROLLOUT_STATUS = "`kubectl rollout status deployment/{workload} -n {namespace}`"  # a spec's ``check_by_hand``


def k8s(target: Target) -> Workload:
    """The Kubernetes parts of ``target``'s locator."""
    found = target.locator
    return Workload(
        found.get("namespace", ""), found.get("workload", ""), found.get("container") or "", found.get("cluster")
    )


def api_client(ctx: BuildContext) -> Any:
    """The ``ApiClient`` of the cluster a strategy is built for (one per context, owned by the runtime)."""
    return ctx.clients.kubernetes(context=ctx.cluster)


def k8s_target(
    service: str, namespace: str, workload: str, container: str = "", to_revision: int | None = None, **rest: Any
) -> Target:
    """A Target on Kubernetes (``rest``: ``options``, ``env_only``)."""
    return Target(service, locator(namespace, workload, container), to_revision, **rest)


def with_workload(target: Target, workload: str) -> Target:
    """``target`` on another workload of the same namespace (a colour's or the canary's Deployment)."""
    return replace(target, locator={**target.locator, "workload": workload})
