"""The API resources the simulator serves, described once for discovery, routing and errors."""

from __future__ import annotations

from dataclasses import dataclass

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    custom: bool = False  # served from a CustomResourceDefinition: no strategic merge patch

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps`` as the API server names a resource in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.kind.lower()


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), ("status",)),
    Resource("", "v1", "pods", "Pod", True, ("po",), ("status",), ("all",)),
    Resource("", "v1", "services", "Service", True, ("svc",), ("status",), ("all",)),
    Resource("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status", "scale"), ("all",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("status", "scale"), ("all",)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("status", "scale"), ("all",)),
    Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource(
        "networking.istio.io",
        "v1",
        "virtualservices",
        "VirtualService",
        True,
        ("vs",),
        (),
        ("istio-io", "networking-istio-io"),
        custom=True,
    ),
    Resource("batch", "v1", "jobs", "Job", True, (), ("status",), ("all",)),
    Resource("argoproj.io", "v1alpha1", "applications", "Application", True, ("app", "apps"), (), (), True),
    Resource(
        "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization", True, ("ks",), ("status",), (), True
    ),
    Resource("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease", True, ("hr",), ("status",), (), True),
    Resource(
        "networking.istio.io",
        "v1",
        "destinationrules",
        "DestinationRule",
        True,
        ("dr",),
        (),
        ("istio-io", "networking-istio-io"),
    ),
)

BY_PLURAL: dict[str, Resource] = {r.plural: r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    res = BY_PLURAL.get(plural)
    if res and res.group == group and res.version == version:
        return res
    return None


def groups() -> dict[str, list[str]]:
    """Named API groups and their versions (the core group is served under /api)."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in out.setdefault(r.group, []):
            out[r.group].append(r.version)
    return out


def resource_list(group: str, version: str) -> dict | None:
    """The legacy discovery document ``APIResourceList`` of one group version."""
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members:
        return None
    items = []
    for r in members:
        entry = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        items.append(entry)
        for sub in r.subresources:
            kind, sub_group, sub_version = r.kind, None, None
            if sub == "scale":
                kind, sub_group, sub_version = "Scale", "autoscaling", "v1"
            sub_entry = {
                "name": f"{r.plural}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": ["get", "patch", "update"],
            }
            if sub_group:
                sub_entry.update(group=sub_group, version=sub_version)
            items.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": members[0].api_version,
        "resources": items,
    }
