"""The base of the strategies that move traffic between Deployments, or restart one (blue-green, canary, config)."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from bot.providers.kubernetes import gitops, rollout_rules
from bot.providers.kubernetes.api import REQUEST_TIMEOUT, Call, CallFailed, Obj
from bot.providers.kubernetes.backup import JobBackup
from bot.providers.kubernetes.deployment.strategy import KubernetesUndo
from bot.providers.kubernetes.gitops import GitOpsGuard
from bot.providers.kubernetes.locator import k8s
from bot.providers.kubernetes.outcomes import NOTHING_CHANGED
from bot.strategies.base import Plan, Target


class OnDeployments:
    """Base of the strategies that move traffic between Deployments (blue-green, canary): ``KubernetesUndo``
    reads, scales and follows the Deployments themselves."""

    def __init__(
        self, api_client: client.ApiClient, clock: Any = time, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self.deployments = KubernetesUndo(api_client, clock, request_timeout)
        self.api, self.clock = self.deployments.api, clock

    def sync_owner(self, target: Target) -> gitops.GitOpsOwner | None:
        """The GitOps owner of what the run changes; by default the catalog's Deployment."""
        return self.deployments.sync_owner(target)

    def capabilities(self) -> tuple[object, ...]:
        """GitOps sync suspended around the change, a backup Job before it (``bot.strategies.capabilities``)."""
        return (GitOpsGuard(self.api, self.sync_owner), JobBackup(self.api, self.clock))

    def target_print(self, plan: Plan) -> dict:
        """Nothing to pin by default (config restores recorded versions); blue-green and canary pin the
        Deployment traffic moves to with ``_deployment_print``."""
        return {}

    def _deployment_print(self, plan: Plan) -> dict:
        """The print of the pod template of the Deployment the plan moves traffic to (``plan.desired.name``);
        {} when it does not exist."""
        if plan.desired is None or not plan.desired.name:
            return {}
        t = plan.target
        with self.deployments._explained(t, NOTHING_CHANGED):
            found = self._maybe(Call("get", "deployments", k8s(t).namespace, plan.desired.name))
        return rollout_rules.template_print(rollout_rules.deployment_template(found)) if found else {}

    def _maybe(self, call: Call) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            return self.api.read(call)
        except CallFailed as failed:
            if failed.status == 404:
                return None
            raise
