"""Config rollback: put a service's ConfigMap and Secrets back as they were, then ``rollout restart``.

Kubernetes keeps no history of a ConfigMap or a Secret, so the versions come from the config tracker's
record (a ``VersionStore``, given by the runtime), composed into the service's config states (``config_states``:
every change of the ConfigMap or of a Secret of ``config.secrets`` is one); those are the "revisions"
on the card. A Secret is put back from another Secret holding its old values (``config_secrets``: the
bot never holds a Secret value); a hash-named one (``secretGenerator``) is rolled back by the plain undo.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kubernetes import client

from bot.providers.kubernetes import rollout_rules
from bot.providers.kubernetes.api import REQUEST_TIMEOUT, Call, CallFailed, Obj, explain
from bot.providers.kubernetes.config.options import ConfigRollback
from bot.providers.kubernetes.config_secrets import apply_secret, holds, plan_secret, read_secret, secret_check
from bot.providers.kubernetes.config_states import ConfigState, config_states
from bot.providers.kubernetes.deployments import OnDeployments
from bot.providers.kubernetes.locator import k8s
from bot.providers.kubernetes.outcomes import NOTHING_CHANGED, VERIFY_CONSEQUENCE
from bot.strategies.base import RUN_STEPS, Check, Plan, Progress, Revision, RollbackError, Target, Verification
from bot.strategies.options import from_options
from bot.strategies.versions import SECRETS_NOT_TRACKED, VersionStore, data_hash, diff_lines, utc

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _restores(plan: Plan) -> list[dict]:
    """The plan's Secret restores (its other operations are the ConfigMap's JSON Patch)."""
    return [dict(op) for op in plan.operations if "secret" in op]


class ConfigRestore(OnDeployments):
    """The ``Strategy`` for ``strategy: config``. ``versions``: where the config tracker records them."""

    name = "config"
    steps = RUN_STEPS

    def __init__(
        self,
        api_client: client.ApiClient,
        versions: VersionStore,
        clock: Any = time,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        super().__init__(api_client, clock, request_timeout)
        self.versions = versions

    def _configmap(self, target: Target) -> tuple[ConfigRollback, Obj]:
        opts: ConfigRollback = from_options(ConfigRollback, target.options)
        try:
            return opts, self.api.read(Call("get", "configmaps", k8s(target).namespace, opts.configmap))
        except CallFailed as failed:
            if failed.status == 404:
                raise RollbackError(
                    f"ConfigMap {k8s(target).namespace}/{opts.configmap} not found; {NOTHING_CHANGED}. "
                    "Check config.configmap in the services catalog."
                ) from failed
            raise explain(failed, NOTHING_CHANGED) from failed

    def _states(self, target: Target) -> tuple[ConfigRollback, Obj, list[ConfigState]]:
        """The live ConfigMap and the service's config states, the live versions recorded now if the tracker
        has not yet."""
        opts, cm = self._configmap(target)
        self.versions.record("ConfigMap", cm)
        ns = k8s(target).namespace
        histories = {("ConfigMap", opts.configmap): self.versions.versions(ns, "ConfigMap", opts.configmap)}
        for name in opts.secrets if self.versions.prints.tracks("Secret") else ():
            live = read_secret(self.api, k8s(target).namespace, name)
            if live is not None:
                self.versions.record("Secret", live)
            histories[("Secret", name)] = self.versions.versions(ns, "Secret", name)
        return opts, cm, config_states(histories)

    @staticmethod
    def _revision(target: Target, state: ConfigState, states: list[ConfigState]) -> Revision:
        """State ``n`` as the card shows a revision: ``v{n}``, what made it, when."""
        opts: ConfigRollback = from_options(ConfigRollback, target.options)
        cm_version = state.versions[("ConfigMap", opts.configmap)]
        when = (state.change or cm_version).changed_at
        return Revision(
            number=state.number,
            image=f"config/{target.service}:v{state.number}",
            change_cause=state.describe(states[: state.number - 1]),
            created_at=utc(when),
            name=str(cm_version.id),
        )

    def history(self, target: Target) -> list[Revision]:
        _, _, states = self._states(target)
        return [self._revision(target, s, states) for s in states]

    def plan(self, target: Target) -> Plan:
        opts, cm, states = self._states(target)
        name = cm["metadata"]["name"]
        if cm.get("immutable"):
            raise RollbackError(
                f"ConfigMap {k8s(target).namespace}/{name} is immutable (hash-named, as a kustomize "
                "configMapGenerator makes it): it cannot be written back. Roll the Deployment back instead "
                "(strategy kubernetes): its previous revision refers to the previous ConfigMap. Nothing was changed."
            )
        objects = ", ".join([f"ConfigMap {name}", *(f"Secret {s}" for s in opts.secrets)])
        if len(states) < 2 and target.to_revision is None:
            untracked = f" {SECRETS_NOT_TRACKED}" if opts.secrets and not self.versions.prints.tracks("Secret") else ""
            raise RollbackError(
                f"only one version of the config of {target.service} ({objects}) is recorded, so there is nothing "
                f"to go back to; {NOTHING_CHANGED}. The bot records versions from the moment it runs.{untracked}"
            )
        number = target.to_revision or len(states) - 1
        if not 1 <= number <= len(states):
            raise RollbackError(f"there is no version {number} of the config of {target.service} ({objects})")
        state = states[number - 1]
        live = dict(cm.get("data") or {})
        common = dict(
            strategy=self.name,
            target=replace(target, to_revision=number),
            current=self._revision(target, states[-1], states),
            desired=self._revision(target, state, states),
            guard=cm["metadata"].get("resourceVersion", ""),
        )
        wanted = dict(state.versions[("ConfigMap", opts.configmap)].data or {})
        secrets = [
            plan_secret(self.api, self.versions, k8s(target).namespace, s, state.versions.get(("Secret", s)))
            for s in opts.secrets
        ]
        restores = tuple(p.restore for p in secrets if p.restore)
        same = data_hash(live) == data_hash(wanted)
        secret_warnings = tuple(w for p in secrets for w in p.warnings)
        if same and not restores:
            skipped = f"the config of {target.service} already is as in v{number}"
            return Plan(**common, skipped=skipped, warnings=secret_warnings)
        changes = [] if same else [f"ConfigMap {name} back to version {number}: {d}" for d in diff_lines(live, wanted)]
        changes += [c for p in secrets for c in p.changes]
        changes.append(
            f"then `kubectl rollout restart deployment/{k8s(target).workload}` (the {RESTARTED_AT} annotation), "
            "so every pod reads the restored values; the image stays as it is"
        )
        removed = set(live) - set(wanted)
        warnings = ["values are restored as recorded; a key added since then is removed"] if removed else []
        cm_ops = () if same else (
            {"op": "test", "path": "/metadata/resourceVersion", "value": common["guard"]},
            {"op": "replace", "path": "/data", "value": wanted},
        )
        restored = ([] if same else [f"ConfigMap {name}"]) + [f"Secret {r['secret']}" for r in restores]
        return Plan(
            **common,
            changes=tuple(changes),
            warnings=(*warnings, *secret_warnings),
            operations=(*cm_ops, *restores),
            summary=f"restoring {' and '.join(restored)} to version {number}",
        )

    def _configmap_restored(self, plan: Plan) -> bool:
        _, cm = self._configmap(plan.target)
        wanted = self.versions.get(int(plan.desired.name))
        return wanted is not None and data_hash(dict(cm.get("data") or {})) == data_hash(dict(wanted.data or {}))

    def is_applied(self, plan: Plan) -> bool:
        ns = k8s(plan.target).namespace
        prints = self.versions.prints
        return self._configmap_restored(plan) and all(holds(self.api, prints, ns, r) for r in _restores(plan))

    def apply(self, plan: Plan) -> None:
        """The ConfigMap written back (guarded by its resourceVersion), then the Deployment restarted."""
        t = plan.target
        opts: ConfigRollback = from_options(ConfigRollback, t.options)
        for restore in _restores(plan):  # first: a Secret that cannot be restored stops the run before any change
            apply_secret(self.api, self.versions.prints, k8s(t).namespace, restore)
        try:
            ops = [dict(op) for op in plan.operations if "op" in op]
            if ops:
                self.api.write(Call("patch", "configmaps", k8s(t).namespace, opts.configmap), ops)
        except CallFailed as failed:
            if not self._configmap_restored(plan):
                if failed.status == 422:
                    raise RollbackError(
                        f"ConfigMap {k8s(t).namespace}/{opts.configmap} changed after this plan was made; nothing was "
                        "restored. Plan the rollback again."
                    ) from failed
                again = "nothing was restored (the bot read the ConfigMap again to make sure)"
                raise explain(failed, again) from failed
        self.restart(t)

    def restart(self, target: Target) -> None:
        """``kubectl rollout restart``: a new pod template annotation, so the Deployment rolls its pods."""
        # Microseconds (still RFC 3339): a restart in the same second as the last one must change the template.
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        try:
            self.api.write(Call("patch", "deployments", k8s(target).namespace, k8s(target).workload), body)
        except CallFailed as failed:
            raise explain(
                failed,
                "the ConfigMap was restored, but the pods were not restarted and may still use the old values",
                f"Restart them: `kubectl rollout restart deployment/{k8s(target).workload} "
                f"-n {k8s(target).namespace}`.",
            ) from failed

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        self.deployments.wait(target, progress, timeout_seconds)

    def verify(self, plan: Plan) -> Verification:
        try:
            restored = self._configmap_restored(plan)
            deployment = self.deployments._read(plan.target)[0]
            template = rollout_rules.deployment_template(deployment)
            image = rollout_rules.container_image(template, k8s(plan.target).container)
            checks = self.deployments.verify(replace(plan, desired=replace(plan.desired, image=image))).checks
            ns = k8s(plan.target).namespace
            secrets = [secret_check(self.api, self.versions.prints, ns, r) for r in _restores(plan)]
        except CallFailed as failed:
            raise explain(failed, VERIFY_CONSEQUENCE) from failed
        return Verification(
            (
                Check("config", restored, f"ConfigMap {'holds' if restored else 'lost'} the version restored"),
                *secrets,
                *(c for c in checks if c.name != "image"),
            )
        )

    def scale(self, target: Target, replicas: int) -> None:
        self.deployments.scale(target, replicas)
