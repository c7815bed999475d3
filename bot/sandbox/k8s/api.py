"""The HTTP face of the simulator: discovery, CRUD, patch, watch, Table printing and Status errors."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator

from ..httpserver import App, Request, Response
from . import errors, resources, writes
from .cluster import Cluster
from .faults import Call
from .resources import Resource
from .selectors import field_matcher, label_matcher
from .table import to_table

VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-sandbox",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def make_api(cluster: Cluster) -> App:
    def app(req: Request) -> Response:
        try:
            path = req.path.rstrip("/") or "/"
            special = _non_resource(path, req)
            if special is not None:
                return special
            res, namespace, name, sub = _parse(path)
            call = Call(_verb(req, name), res, namespace, name, sub)
            cluster.requests.record(call, req.headers.get("user-agent") or "")
            return cluster.faults.serve(call, lambda: _route(cluster, req, res, namespace, name, sub))
        except errors.ApiError as exc:
            return Response.json(exc.status(), exc.code, exc.headers())

    return app


def _non_resource(path: str, req: Request) -> Response | None:
    """Health and discovery answers (never faulted: kubectl must still find the API to show an error)."""
    if path in ("/healthz", "/livez", "/readyz"):
        return Response.text("ok")
    doc = _discovery(path)
    if doc is not None and req.method == "GET":
        return Response.json(doc)
    if path.startswith("/openapi"):
        raise errors.no_such_resource()
    return None


def _verb(req: Request, name: str | None) -> str:
    """The RBAC verb of a request, as the API server's authorizer derives it."""
    if req.method == "GET":
        if name:
            return "get"
        return "watch" if (req.arg("watch") or "").lower() in ("true", "1") else "list"
    if req.method == "DELETE":
        return "delete" if name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(req.method, req.method.lower())


def _discovery(path: str) -> dict | None:
    if path == "/version":
        return VERSION
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
        }
    if path == "/apis":
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group(g, v) for g, v in resources.groups().items()],
        }
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        return resources.resource_list("", parts[1])
    if parts[0] == "apis" and len(parts) == 2 and parts[1] in resources.groups():
        return dict(_group(parts[1], resources.groups()[parts[1]]), kind="APIGroup", apiVersion="v1")
    if parts[0] == "apis" and len(parts) == 3:
        return resources.resource_list(parts[1], parts[2])
    return None


def _group(name: str, versions: list[str]) -> dict:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def _parse(path: str) -> tuple[Resource, str | None, str | None, str | None]:
    """(resource, namespace, name, subresource) of a resource URL, or NotFound."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise errors.no_such_resource()
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    res = resources.lookup(group, version, rest[0])
    if res is None or len(rest) > 3 or (len(rest) == 3 and rest[2] not in res.subresources):
        raise errors.no_such_resource()
    return res, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None


def _route(
    cluster: Cluster, req: Request, res: Resource, namespace: str | None, name: str | None, sub: str | None
) -> Response:
    cluster.tick()
    store = cluster.store
    if req.method == "GET" and name is None:
        if (req.arg("watch") or "").lower() in ("true", "1"):
            return _watch(cluster, req, res, namespace)
        return _list(cluster, req, res, namespace)
    body = None
    if req.method in ("POST", "PUT") and req.body:
        try:
            body = json.loads(req.body)
        except ValueError as exc:
            raise errors.bad_request(f"error decoding request body: {exc}") from None
    dry = req.arg("dryRun") == "All"
    # The API server's rule: the fieldManager parameter, else the User-Agent up to its first "/".
    manager = req.arg("fieldManager") or (req.headers.get("user-agent") or "").split("/")[0]
    with store.lock:
        if req.method == "GET":
            obj = store.require(res, namespace, name)
            if sub == "scale":
                return Response.json(writes.scale_of(obj))
            return _one(cluster, req, res, copy.deepcopy(obj))
        if req.method == "POST" and name is None:
            out, code = writes.create(cluster, res, namespace, body, dry, manager), 201
        elif req.method == "PUT" and name:
            out, code = writes.replace(cluster, res, namespace, name, body, sub, dry, manager), 200
        elif req.method == "PATCH" and name:
            out, code = (
                writes.patch(
                    cluster, res, namespace, name, req.headers.get("content-type", ""), req.body, sub, dry, manager
                ),
                200,
            )
        elif req.method == "DELETE" and name:
            options = json.loads(req.body) if req.body else {}
            if req.arg("propagationPolicy"):
                options["propagationPolicy"] = req.arg("propagationPolicy")
            out, code = writes.delete(cluster, res, namespace, name, options, dry), 200
        elif req.method == "DELETE":
            match = _matcher(req)
            for obj in list(store.list(res, namespace, match)):
                cluster.remove(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            out, code = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}, 200
        else:
            raise errors.ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
            )
    cluster.tick()
    return Response.json(out, code)


def _matcher(req: Request):
    labels, fields = label_matcher(req.arg("labelSelector")), field_matcher(req.arg("fieldSelector"))
    return lambda obj: labels(obj) and fields(obj)


def _wants_table(req: Request) -> bool:
    return "as=Table" in req.headers.get("accept", "")


def _one(cluster: Cluster, req: Request, res: Resource, obj: dict) -> Response:
    if _wants_table(req):
        return Response.json(
            to_table(
                res,
                [obj],
                cluster.now(),
                obj["metadata"]["resourceVersion"],
                req.arg("includeObject", "Metadata"),
            )
        )
    return Response.json(obj)


def _list(cluster: Cluster, req: Request, res: Resource, namespace: str | None) -> Response:
    with cluster.store.lock:
        items = copy.deepcopy(cluster.store.list(res, namespace, _matcher(req)))
        rv = str(cluster.store.rv)
    if _wants_table(req):
        return Response.json(to_table(res, items, cluster.now(), rv, req.arg("includeObject", "Metadata")))
    return Response.json(
        {
            "kind": f"{res.kind}List",
            "apiVersion": res.api_version,
            "metadata": {"resourceVersion": rv},
            "items": items,
        }
    )


def _watch(cluster: Cluster, req: Request, res: Resource, namespace: str | None) -> Response:
    """A chunked stream of JSON watch events; starts from ``resourceVersion`` or with the current objects."""
    store, match = cluster.store, _matcher(req)
    timeout = float(req.arg("timeoutSeconds") or 1800)
    rv_arg = req.arg("resourceVersion") or ""
    initial = (req.arg("sendInitialEvents") or "").lower() == "true" or rv_arg in ("", "0")
    table = _wants_table(req)
    include = req.arg("includeObject", "Metadata")
    with store.lock:
        start = store.rv if initial else int(rv_arg)
        current = copy.deepcopy(store.list(res, namespace, match)) if initial else []
        expired = not initial and store.events_since(start) is None

    def encode(kind: str, obj: dict) -> bytes:
        if table and kind != "BOOKMARK":
            obj = to_table(res, [obj], cluster.now(), obj["metadata"].get("resourceVersion", ""), include)
        return json.dumps({"type": kind, "object": obj}).encode() + b"\n"

    def stream() -> Iterator[bytes]:
        if expired:
            yield (
                json.dumps(
                    {
                        "type": "ERROR",
                        "object": errors.gone(f"too old resource version: {rv_arg} ({store.rv})").status(),
                    }
                ).encode()
                + b"\n"
            )
            return
        for obj in current:
            yield encode("ADDED", obj)
        if (req.arg("sendInitialEvents") or "").lower() == "true":
            yield encode(
                "BOOKMARK",
                {
                    "kind": res.kind,
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(start), "annotations": {INITIAL_EVENTS_END: "true"}},
                },
            )
        last, deadline = start, time.monotonic() + timeout
        while not cluster.stopped.is_set() and time.monotonic() < deadline:
            with store.lock:
                events = store.events_since(last) or []
                if not events:
                    store.changed.wait(min(1.0, max(deadline - time.monotonic(), 0.0)))
                    continue
            for rv, plural, kind, obj in events:
                last = rv
                if (
                    plural == res.plural
                    and (not namespace or obj["metadata"].get("namespace") == namespace)
                    and match(obj)
                ):
                    yield encode(kind, obj)

    return Response(200, stream(), {"Content-Type": "application/json"})
