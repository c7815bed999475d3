"""What the cluster shows of a workload's pods: the label selector query, the pods check, the endpoints check.

A mixin of the workload strategies (``KubernetesUndo``, ``StatefulSetUndo``): it reads with ``self.api`` and
samples restarts with ``self.clock``.
"""

from __future__ import annotations

from typing import Any

from bot.providers.kubernetes import rollout_rules
from bot.providers.kubernetes.api import Api, Call, CallFailed, Obj
from bot.strategies.base import Check


def label_selector(selector: Obj | None) -> str:
    """A LabelSelector object as the ``labelSelector`` query string."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        terms.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[op]
        )
    return ",".join(terms)


class PodChecks:
    """The verification's pods and endpoints checks, on ``self.api`` with ``self.clock``."""

    api: Api
    clock: Any

    def _pods(self, rs: Obj) -> list[Obj]:
        found = self.api.read(
            Call("list", "pods", rs["metadata"]["namespace"]),
            label_selector=label_selector(rs["spec"].get("selector")),
        )
        return [p for p in found.get("items") or [] if rollout_rules.is_controlled_by(p, rs)]

    def _pods_check(self, rs: Obj, sample_seconds: float = 5.0) -> Check:
        """Pods of the live ReplicaSet all ready; restart counts sampled twice must not climb."""

        def restarts(pods: list[Obj]) -> dict[str, int]:
            return {
                p["metadata"]["name"]: sum(
                    c.get("restartCount", 0) for c in (p.get("status") or {}).get("containerStatuses") or []
                )
                for p in pods
            }

        pods = self._pods(rs)
        ready = [
            p
            for p in pods
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        ]
        first = restarts(pods)
        climbing: list[str] = []
        if any(first.values()):
            self.clock.sleep(sample_seconds)
            later = restarts(self._pods(rs))
            climbing = [name for name, n in later.items() if n > first.get(name, n)]
        ok = bool(pods) and len(ready) == len(pods) and not climbing
        detail = f"{len(ready)}/{len(pods)} pods of {rs['metadata']['name']} ready"
        if climbing:
            detail += f"; restarts climbing in {', '.join(sorted(climbing))}"
        elif any(first.values()):
            detail += f"; {sum(first.values())} earlier restarts, not climbing"
        return Check("pods", ok, detail)

    def _endpoints_check(self, namespace: str, template: Obj) -> Check:
        labels = (template.get("metadata") or {}).get("labels") or {}
        services = self.api.read(Call("list", "services", namespace)).get("items") or []
        selecting = [
            s
            for s in services
            if (sel := (s.get("spec") or {}).get("selector")) and all(labels.get(k) == v for k, v in sel.items())
        ]
        if not selecting:
            return Check("endpoints", None, "no Service selects these pods")
        details, ok = [], True
        for svc in selecting:
            name = svc["metadata"]["name"]
            try:
                ep = self.api.read(Call("get", "endpoints", namespace, name))
            except CallFailed as failed:
                if failed.status != 404:
                    raise
                ep = {}
            addresses = sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])
            ok = ok and addresses > 0
            details.append(f"service {name}: {addresses} ready addresses")
        return Check("endpoints", ok, "; ".join(details))
