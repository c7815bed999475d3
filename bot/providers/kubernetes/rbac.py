"""The Kubernetes RBAC rules the strategies' calls need, in pieces each spec puts together (``StrategySpec.rbac``).

Read off the calls themselves (``Call(verb, resource, ...)`` in each strategy and in the steps they run); a
watch is the ``watch`` verb alone (the client sends a list request with ``watch=true``). A Role generated from
them gives the bot what it uses and nothing more: tests/deploy/test_rbac_calls.py plays an incident of every
strategy against the sandbox's API server and fails on a call no rule allows, and on a rule no call used.
"""

from __future__ import annotations

from bot.strategies.registry import ARGO_CD, BACKUP_JOB, FLUX, Rule

CORE, APPS, BATCH, ISTIO = "", "apps", "batch", "networking.istio.io"

# Every strategy's run: the pre-checks' and the verification's reads: the pods (listed by selector), the
# Services (listed to find the workload's, read by name) and their Endpoints (read by name).
PODS_AND_ENDPOINTS = (
    Rule((CORE,), ("pods",), ("list",)),
    Rule((CORE,), ("services",), ("get", "list")),
    Rule((CORE,), ("endpoints",), ("get",)),
)
# "backup" (db_migrations with a backup_job): the Job, and its pods for a failure's reason.
BACKUP = (
    Rule((BATCH,), ("jobs",), ("create", "get"), BACKUP_JOB),
    Rule((CORE,), ("pods",), ("list",), BACKUP_JOB),
)
# "suspend sync": the Argo CD Application or Flux object that owns the workload, read and suspended, in the
# controller's namespace (argocd, flux-system), not the workload's.
GITOPS = (
    Rule(("argoproj.io",), ("applications",), ("get", "patch"), ARGO_CD),
    Rule(("kustomize.toolkit.fluxcd.io",), ("kustomizations",), ("get", "patch"), FLUX),
    Rule(("helm.toolkit.fluxcd.io",), ("helmreleases",), ("get", "patch"), FLUX),
)
RUN = (*PODS_AND_ENDPOINTS, *BACKUP, *GITOPS)

# A Deployment rolled back, followed, scaled (``KubernetesUndo``); a restored template's ConfigMaps checked.
DEPLOYMENT = (
    Rule((APPS,), ("deployments",), ("get", "watch", "patch")),
    Rule((APPS,), ("deployments/scale",), ("patch",)),
    Rule((APPS,), ("replicasets",), ("get", "list")),
    Rule((CORE,), ("configmaps",), ("get",)),
)
STATEFULSET = (
    Rule((APPS,), ("statefulsets",), ("get", "watch", "patch")),
    Rule((APPS,), ("statefulsets/scale",), ("patch",)),
    Rule((APPS,), ("controllerrevisions",), ("get", "list")),
    Rule((CORE,), ("configmaps",), ("get",)),
)
# Traffic moved between Deployments: the Deployments read, scaled and (after: delete) deleted.
TRAFFIC_DEPLOYMENTS = (
    Rule((APPS,), ("deployments",), ("get", "watch", "patch", "delete")),
    Rule((APPS,), ("deployments/scale",), ("patch",)),
    Rule((APPS,), ("replicasets",), ("get", "list")),
)
SERVICE_SELECTOR = (Rule((CORE,), ("services",), ("get", "patch")),)
VIRTUAL_SERVICES = (Rule((ISTIO,), ("virtualservices",), ("get", "patch")),)
# A ConfigMap restored, a Secret restored from another one, the Deployment restarted.
CONFIG = (
    Rule((CORE,), ("configmaps",), ("get", "patch")),
    Rule((CORE,), ("secrets",), ("get", "list", "patch")),
    Rule((APPS,), ("deployments",), ("get", "watch", "patch")),
    Rule((APPS,), ("deployments/scale",), ("patch",)),
    Rule((APPS,), ("replicasets",), ("get", "list")),
)

# Not a strategy's: the config tracker (bot/config_tracker.py, run by the worker) lists and watches the
# ConfigMaps and Secrets of every namespace with a Kubernetes service, and reads the ones a service names
# (``/rollback config``). Of a Secret it stores key names and keyed hashes only; without
# CONFIG_FINGERPRINT_KEY it reads no Secret (``rollback-bot rbac --no-secrets`` then leaves them out).
TRACKER = (Rule((CORE,), ("configmaps",), ("get", "list", "watch")),)
TRACKER_SECRETS = (Rule((CORE,), ("secrets",), ("get", "list", "watch")),)
