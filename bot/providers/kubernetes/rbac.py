"""The Kubernetes RBAC rules the strategies' calls need, in pieces each spec puts together (``StrategySpec.rbac``).

Read off the calls themselves (``Call(verb, resource, ...)`` in each strategy and in the steps they run); a
watch is a ``list`` and a ``watch``. A Role generated from them gives the bot what it uses and nothing more.
"""

from __future__ import annotations

from bot.strategies.registry import Rule

CORE, APPS, BATCH, ISTIO = "", "apps", "batch", "networking.istio.io"

# Every strategy's run: the pre-checks' and the verification's reads of pods, Services and their endpoints.
PODS_AND_ENDPOINTS = (Rule((CORE,), ("pods", "services", "endpoints"), ("get", "list")),)
# "backup" (db_migrations with a backup_job): the Job, and its pods for a failure's reason.
BACKUP = (Rule((BATCH,), ("jobs",), ("create", "get")), Rule((CORE,), ("pods",), ("list",)))
# "suspend sync": the Argo CD Application or Flux object that owns the workload, read and suspended.
GITOPS = (
    Rule(("argoproj.io",), ("applications",), ("get", "patch")),
    Rule(("kustomize.toolkit.fluxcd.io",), ("kustomizations",), ("get", "patch")),
    Rule(("helm.toolkit.fluxcd.io",), ("helmreleases",), ("get", "patch")),
)
RUN = (*PODS_AND_ENDPOINTS, *BACKUP, *GITOPS)

# A Deployment rolled back, followed, scaled (``KubernetesUndo``); a restored template's ConfigMaps checked.
DEPLOYMENT = (
    Rule((APPS,), ("deployments",), ("get", "list", "watch", "patch")),
    Rule((APPS,), ("deployments/scale",), ("patch",)),
    Rule((APPS,), ("replicasets",), ("get", "list")),
    Rule((CORE,), ("configmaps",), ("get",)),
)
STATEFULSET = (
    Rule((APPS,), ("statefulsets",), ("get", "list", "watch", "patch")),
    Rule((APPS,), ("statefulsets/scale",), ("patch",)),
    Rule((APPS,), ("controllerrevisions",), ("get", "list")),
    Rule((CORE,), ("configmaps",), ("get",)),
)
# Traffic moved between Deployments: the Deployments read, scaled and (after: delete) deleted.
TRAFFIC_DEPLOYMENTS = (
    Rule((APPS,), ("deployments",), ("get", "list", "watch", "patch", "delete")),
    Rule((APPS,), ("deployments/scale",), ("patch",)),
    Rule((APPS,), ("replicasets",), ("get", "list")),
)
SERVICE_SELECTOR = (Rule((CORE,), ("services",), ("get", "patch")),)
VIRTUAL_SERVICES = (Rule((ISTIO,), ("virtualservices",), ("get", "patch")),)
# A ConfigMap restored, a Secret restored from another one, the Deployment restarted.
CONFIG = (
    Rule((CORE,), ("configmaps",), ("get", "patch")),
    Rule((CORE,), ("secrets",), ("get", "list", "patch")),
    Rule((APPS,), ("deployments",), ("get", "list", "watch", "patch")),
    Rule((APPS,), ("deployments/scale",), ("patch",)),
    Rule((APPS,), ("replicasets",), ("get", "list")),
)
