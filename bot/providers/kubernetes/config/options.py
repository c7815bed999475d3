"""``options:`` of a config service (its old name: ``config:``)."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from bot.config.reader import INVALID, K8S, CatalogReader


@dataclass(frozen=True)
class ConfigRollback:
    """A Deployment whose bad change is its ConfigMap: restore a recorded version, then ``rollout restart``."""

    configmap: str  # the ConfigMap restored (its versions are recorded by the config tracker)
    secrets: tuple[str, ...] = ()  # Secrets tracked too (key names and hashes only); restored from another Secret

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> ConfigRollback | None:
        given = r.mapping(node, where, {"configmap": "", "secrets": ""}) or {}
        if "configmap" not in given:
            r.error(node, f"{where}.configmap", "missing (the ConfigMap to restore)")
            return None
        configmap = r.check(given["configmap"], f"{where}.configmap", *K8S)
        secrets = r.strings(given["secrets"], f"{where}.secrets", *K8S) if "secrets" in given else ()
        if INVALID in (configmap, secrets):
            return None
        return cls(configmap=configmap, secrets=secrets)
