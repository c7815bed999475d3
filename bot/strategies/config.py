"""Config rollback: write a recorded version of a ConfigMap back, then ``rollout restart`` the Deployment.

Kubernetes keeps no history of a ConfigMap, so its versions come from the config tracker's record
(``bot.state.config_versions``); they are the "revisions" shown on the card, numbered 1, 2, ...
in the order they were seen. The Secrets of ``config.secrets`` that changed since the chosen version
are put back from another Secret holding their old values (``config_secrets``: the bot never holds a
Secret value); a hash-named Secret (``secretGenerator``) is rolled back by the plain undo.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kubernetes import client

from bot.state import config_versions
from bot.state.config_versions import data_hash, diff_lines
from bot.state.db import Database
from bot.state.models import ConfigVersion
from bot.strategies import rollout
from bot.strategies.base import RUN_STEPS, Check, Plan, Progress, Revision, RollbackError, Target, Verification
from bot.strategies.config_secrets import apply_secret, holds, plan_secret, secret_check
from bot.strategies.k8s_api import REQUEST_TIMEOUT, Call, CallFailed, Obj, explain
from bot.strategies.kubernetes import NOTHING_CHANGED, VERIFY_CONSEQUENCE, OnDeployments
from bot.strategies.options import ConfigRollback, from_options

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _restores(plan: Plan) -> list[dict]:
    """The plan's Secret restores (its other operations are the ConfigMap's JSON Patch)."""
    return [dict(op) for op in plan.operations if "secret" in op]


class ConfigRestore(OnDeployments):
    """The ``Strategy`` for ``strategy: config``. ``db``: where the config tracker records the versions."""

    name = "config"
    steps = RUN_STEPS

    def __init__(
        self, api_client: client.ApiClient, db: Database, clock: Any = time, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        super().__init__(api_client, clock, request_timeout)
        self.db = db

    def _configmap(self, target: Target) -> tuple[ConfigRollback, Obj]:
        opts: ConfigRollback = from_options(ConfigRollback, target.options)
        try:
            return opts, self.api.read(Call("get", "configmaps", target.namespace, opts.configmap))
        except CallFailed as failed:
            if failed.status == 404:
                raise RollbackError(
                    f"ConfigMap {target.namespace}/{opts.configmap} not found; {NOTHING_CHANGED}. "
                    "Check config.configmap in the services catalog."
                ) from failed
            raise explain(failed, NOTHING_CHANGED) from failed

    def _versions(self, target: Target) -> tuple[Obj, list[ConfigVersion]]:
        """The live ConfigMap and its recorded versions, the live one recorded now if the tracker has not yet."""
        _, cm = self._configmap(target)
        config_versions.record(self.db, "ConfigMap", cm)
        return cm, config_versions.versions(self.db, target.namespace, "ConfigMap", cm["metadata"]["name"])

    @staticmethod
    def _revision(n: int, v: ConfigVersion, earlier: list[ConfigVersion]) -> Revision:
        """Version ``n``; one whose data equals an earlier version's (a restore) says which."""
        changed = ", ".join(v.changed_keys[:5]) + ("…" if len(v.changed_keys) > 5 else "")
        by = f" by {v.changed_by}" if v.changed_by else ""
        same = next((i for i, e in enumerate(earlier, 1) if e.data_hash == v.data_hash), None)
        what = "first seen" if n == 1 else f"back to v{same}" if same else f"changed {changed}"
        return Revision(
            number=n,
            image=f"configmap/{v.name}:v{n}",
            change_cause=f"{what}{by}",
            created_at=v.changed_at.replace(tzinfo=dt.UTC) if v.changed_at.tzinfo is None else v.changed_at,
            name=str(v.id),
        )

    def history(self, target: Target) -> list[Revision]:
        _, recorded = self._versions(target)
        return [self._revision(n, v, recorded[: n - 1]) for n, v in enumerate(recorded, 1)]

    def plan(self, target: Target) -> Plan:
        cm, recorded = self._versions(target)
        if cm.get("immutable"):
            raise RollbackError(
                f"ConfigMap {target.namespace}/{cm['metadata']['name']} is immutable (hash-named, as a kustomize "
                "configMapGenerator makes it): it cannot be written back. Roll the Deployment back instead "
                "(strategy kubernetes): its previous revision refers to the previous ConfigMap. Nothing was changed."
            )
        if len(recorded) < 2 and target.to_revision is None:
            raise RollbackError(
                f"only one version of ConfigMap {cm['metadata']['name']} is recorded, so there is nothing to go "
                f"back to; {NOTHING_CHANGED}. The bot records versions from the moment it runs."
            )
        number = target.to_revision or len(recorded) - 1
        if not 1 <= number <= len(recorded):
            raise RollbackError(f"there is no version {number} of ConfigMap {cm['metadata']['name']}")
        live = dict(cm.get("data") or {})
        desired_v = recorded[number - 1]
        current = self._revision(len(recorded), recorded[-1], recorded[:-1])
        desired = self._revision(number, desired_v, recorded[: number - 1])
        common = dict(
            strategy=self.name,
            target=replace(target, to_revision=number),
            current=current,
            desired=desired,
            guard=cm["metadata"].get("resourceVersion", ""),
        )
        wanted = dict(desired_v.data or {})
        name = cm["metadata"]["name"]
        replaced_at = recorded[number].seen_at if number < len(recorded) else dt.datetime.now(dt.UTC)
        if replaced_at.tzinfo is None:
            replaced_at = replaced_at.replace(tzinfo=dt.UTC)
        opts: ConfigRollback = from_options(ConfigRollback, target.options)
        secrets = [plan_secret(self.api, self.db, target.namespace, s, replaced_at) for s in opts.secrets]
        restores = tuple(p.restore for p in secrets if p.restore)
        same = data_hash(live) == data_hash(wanted)
        if same and not restores:
            return Plan(
                **common,
                skipped=f"ConfigMap {name} already holds version {number}",
                warnings=tuple(w for p in secrets for w in p.warnings),
            )
        changes = [] if same else [f"ConfigMap {name} back to version {number}: {d}" for d in diff_lines(live, wanted)]
        changes += [c for p in secrets for c in p.changes]
        changes.append(
            f"then `kubectl rollout restart deployment/{target.workload}` (the {RESTARTED_AT} annotation), "
            "so every pod reads the restored values; the image stays as it is"
        )
        removed = set(live) - set(wanted)
        warnings = ["values are restored as recorded; a key added since then is removed"] if removed else []
        cm_ops = () if same else (
            {"op": "test", "path": "/metadata/resourceVersion", "value": common["guard"]},
            {"op": "replace", "path": "/data", "value": wanted},
        )
        return Plan(
            **common,
            changes=tuple(changes),
            warnings=(*warnings, *(w for p in secrets for w in p.warnings)),
            operations=(*cm_ops, *restores),
            summary=f"restoring ConfigMap {name} to version {number}"
            + (f" and {len(restores)} Secret(s)" if restores else ""),
        )

    def _configmap_restored(self, plan: Plan) -> bool:
        _, cm = self._configmap(plan.target)
        wanted = config_versions.get(self.db, int(plan.desired.name))
        return wanted is not None and data_hash(dict(cm.get("data") or {})) == data_hash(dict(wanted.data or {}))

    def is_applied(self, plan: Plan) -> bool:
        ns = plan.target.namespace
        return self._configmap_restored(plan) and all(holds(self.api, ns, r) for r in _restores(plan))

    def apply(self, plan: Plan) -> None:
        """The ConfigMap written back (guarded by its resourceVersion), then the Deployment restarted."""
        t = plan.target
        opts: ConfigRollback = from_options(ConfigRollback, t.options)
        for restore in _restores(plan):  # first: a Secret that cannot be restored stops the run before any change
            apply_secret(self.api, t.namespace, restore)
        try:
            ops = [dict(op) for op in plan.operations if "op" in op]
            if ops:
                self.api.write(Call("patch", "configmaps", t.namespace, opts.configmap), ops)
        except CallFailed as failed:
            if not self._configmap_restored(plan):
                if failed.status == 422:
                    raise RollbackError(
                        f"ConfigMap {t.namespace}/{opts.configmap} changed after this plan was made; nothing was "
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
            self.api.write(Call("patch", "deployments", target.namespace, target.workload), body)
        except CallFailed as failed:
            raise explain(
                failed,
                "the ConfigMap was restored, but the pods were not restarted and may still use the old values",
                f"Restart them: `kubectl rollout restart deployment/{target.workload} -n {target.namespace}`.",
            ) from failed

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        self.deployments.wait(target, progress, timeout_seconds)

    def verify(self, plan: Plan) -> Verification:
        try:
            restored = self._configmap_restored(plan)
            deployment = self.deployments._read(plan.target)[0]
            image = rollout.container_image(rollout.deployment_template(deployment), plan.target.container)
            checks = self.deployments.verify(replace(plan, desired=replace(plan.desired, image=image))).checks
        except CallFailed as failed:
            raise explain(failed, VERIFY_CONSEQUENCE) from failed
        return Verification(
            (
                Check("config", restored, f"ConfigMap {'holds' if restored else 'lost'} the version restored"),
                *(secret_check(self.api, plan.target.namespace, r) for r in _restores(plan)),
                *(c for c in checks if c.name != "image"),
            )
        )

    def scale(self, target: Target, replicas: int) -> None:
        self.deployments.scale(target, replicas)
