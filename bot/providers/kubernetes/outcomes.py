"""What a failed Kubernetes call means for the user, in the words every strategy's errors share."""

from __future__ import annotations

from typing import Any

from bot.providers.kubernetes.locator import k8s
from bot.strategies.base import RollbackError, Target

NOTHING_CHANGED = "nothing was changed"
WAIT_CONSEQUENCE = "the rollback itself was sent and is not undone by this"
VERIFY_CONSEQUENCE = "this check of the bake could not see the cluster (the rollback itself is not undone)"


def located(target: Target) -> str:
    return k8s(target).where


def deleted(target: Target) -> RollbackError:
    return RollbackError(
        f"{located(target)} was deleted during the rollback; nothing to wait for. Check who deleted it "
        f"(`kubectl get events -n {k8s(target).namespace}`)"
    )


def owner_warning(owner: Any) -> tuple[str, ...]:
    """The GitOps owner's warning (it may sync the rollback away), if the workload has one."""
    return (owner.warning,) if owner else ()
