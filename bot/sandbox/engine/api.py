"""The Docker Engine API over HTTP, in swarm mode, for ``Swarm`` (``model.py``).

It answers what the ``docker`` SDK and the real ``docker`` CLI call for ``service ls|ps|inspect|rollback|update``:
``/_ping`` (its ``API-Version`` header is what the CLI negotiates down to), ``/version`` (what the SDK's
``version="auto"`` reads), ``/info``, ``/services``, ``/services/{id}``, ``/services/{id}/update`` (``version=``
is the ``Version.Index`` guard, ``rollback=previous`` the Engine's rollback), ``/tasks`` and ``/nodes``, each
with an optional ``/v1.NN`` prefix. Errors are ``{"message": ...}`` with the Engine's status and words.
"""

from __future__ import annotations

import copy
import json
import re

from bot.sandbox.engine.model import NODES, EngineError, Service, Swarm, ident, iso
from bot.sandbox.httpserver import Request, Response

API_VERSION, MIN_API_VERSION, ENGINE_VERSION = "1.47", "1.24", "27.5.1"
VERSIONED = re.compile(r"^/v\d+\.\d+(?=/)")
CLUSTER_ID = ident("cluster")
MANAGER = ident("node", NODES[0])


def _headers() -> dict[str, str]:
    return {
        "Api-Version": API_VERSION,
        "Docker-Experimental": "false",
        "Ostype": "linux",
        "Server": f"Docker/{ENGINE_VERSION} (linux)",
        "Swarm": "active/manager",
    }


def _json(obj, status: int = 200) -> Response:
    return Response.json(obj, status=status, headers=_headers())


def _error(status: int, message: str) -> Response:
    return _json({"message": message}, status)


def _filters(req: Request) -> dict[str, list[str]]:
    raw = json.loads(req.arg("filters") or "{}")
    return {k: list(v) if isinstance(v, list) else [k2 for k2, on in v.items() if on] for k, v in raw.items()}


class EngineApi:
    """The HTTP app (``SandboxServer(EngineApi(swarm))``); ``writes`` records the updates it accepted."""

    def __init__(self, swarm: Swarm) -> None:
        self.swarm = swarm
        self.writes: list[tuple[str, str, dict]] = []
        self._races: list = []

    def race_next_write(self, write) -> None:
        """Test hook: ``write()`` (another client's change) lands just before the next update is handled, as
        when two clients read the same ``Version.Index`` and the other one writes first."""
        self._races.append(write)

    def __call__(self, req: Request) -> Response:
        path = VERSIONED.sub("", req.path)
        try:
            return self._route(req, path)
        except EngineError as err:
            return _error(err.status, str(err))

    def _route(self, req: Request, path: str) -> Response:
        parts = path.strip("/").split("/")
        if path == "/_ping":
            return Response(200, b"" if req.method == "HEAD" else b"OK", {**_headers(), "Content-Type": "text/plain"})
        if req.method == "POST" and len(parts) == 3 and parts[0] == "services" and parts[2] == "update":
            return self._update(req, parts[1])
        if req.method not in ("GET", "HEAD"):
            return _error(405, f"the sandbox Engine does not answer {req.method} {path}")
        simple = {
            "version": self._version,
            "info": self._info,
            "services": self._services,
            "tasks": self._tasks,
            "nodes": self._nodes,
        }
        if len(parts) == 1 and parts[0] in simple:
            return simple[parts[0]](req)
        if len(parts) == 2 and parts[0] in ("services", "tasks", "nodes"):
            return self._one(req, parts[0], parts[1])
        if parts[0] == "distribution":
            return _error(403, "no registry is reachable from the sandbox Engine")
        return _error(404, f"page not found: {path}")

    # -- the daemon -------------------------------------------------------------------------------

    def _version(self, req: Request) -> Response:
        details = {
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "sandbox",
            "GoVersion": "go1.22.11",
            "Os": "linux",
            "Arch": "amd64",
            "Experimental": "false",
        }
        return _json(
            {
                "Version": ENGINE_VERSION,
                "ApiVersion": API_VERSION,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux",
                "Arch": "amd64",
                "KernelVersion": "6.1.0-sandbox",
                "GitCommit": "sandbox",
                "GoVersion": "go1.22.11",
                "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
            }
        )

    def _info(self, req: Request) -> Response:
        swarm = {
            "NodeID": MANAGER,
            "NodeAddr": "127.0.0.1",
            "LocalNodeState": "active",
            "ControlAvailable": True,
            "Error": "",
            "Nodes": len(NODES),
            "Managers": 1,
            "Cluster": {"ID": CLUSTER_ID},
        }
        return _json(
            {
                "ID": "SANDBOX",
                "Name": NODES[0],
                "ServerVersion": ENGINE_VERSION,
                "OSType": "linux",
                "Architecture": "x86_64",
                "NCPU": 2,
                "Swarm": swarm,
            }
        )

    # -- services ---------------------------------------------------------------------------------

    def service_json(self, svc: Service, status: bool = False) -> dict:
        tasks, update = self.swarm.state(svc)
        out = {
            "ID": svc.id,
            "Version": {"Index": svc.index},
            "CreatedAt": iso(svc.created),
            "UpdatedAt": iso(svc.updated),
            "Spec": copy.deepcopy(svc.spec),
            "Endpoint": {"Spec": {"Mode": "vip"}},
        }
        if svc.previous is not None:
            out["PreviousSpec"] = copy.deepcopy(svc.previous)
        if update:
            out["UpdateStatus"] = update
        if status:
            running = sum(t["Status"]["State"] == "running" for t in tasks)
            out["ServiceStatus"] = {"RunningTasks": running, "DesiredTasks": len(tasks), "CompletedTasks": 0}
        return out

    def _services(self, req: Request) -> Response:
        wanted = _filters(req)
        found = [s for s in self.swarm.services() if _matches(wanted, {"name": [s.spec.get("Name", "")], "id": [s.id]})]
        return _json([self.service_json(s, req.arg("status") == "true") for s in found])

    def _update(self, req: Request, ref: str) -> Response:
        rollback = req.arg("rollback") == "previous"
        spec = req.json() or {}
        if self._races:
            self._races.pop(0)()
        warnings = self.swarm.update(ref, req.arg("version"), spec, rollback=rollback)
        self.writes.append(("rollback" if rollback else "update", ref, spec))
        return _json({"Warnings": warnings or None})

    # -- tasks and nodes --------------------------------------------------------------------------

    def _all_tasks(self) -> list[dict]:
        return [t for s in self.swarm.services() for t in self.swarm.state(s)[0]]

    def _tasks(self, req: Request) -> Response:
        wanted = _filters(req)
        services = {s.id: s.spec.get("Name", "") for s in self.swarm.services()}
        names = {v: k for k, v in services.items()}
        if "service" in wanted:  # a name or an ID
            wanted["service"] = [names.get(v, v) for v in wanted["service"]]
        templates = {s.id: s.spec.get("TaskTemplate") for s in self.swarm.services()}
        if wanted.pop("_up-to-date", None):  # the CLI's progress: only tasks of the service's current spec
            wanted["_spec"] = ["current"]
        found = [
            t
            for t in self._all_tasks()
            if _matches(
                wanted,
                {
                    "_spec": ["current" if t["Spec"] == templates.get(t["ServiceID"]) else "old"],
                    "service": [t["ServiceID"]],
                    "id": [t["ID"]],
                    "node": [t["NodeID"]],
                    "desired-state": [t["DesiredState"]],
                },
                exact=("service", "desired-state", "node", "_spec"),
            )
        ]
        return _json(found)

    @staticmethod
    def _node(name: str) -> dict:
        leader = name == NODES[0]
        return {
            "ID": ident("node", name),
            "Version": {"Index": 9},
            "CreatedAt": iso(0),
            "UpdatedAt": iso(0),
            "Spec": {"Role": "manager" if leader else "worker", "Availability": "active", "Labels": {}},
            "Description": {
                "Hostname": name,
                "Platform": {"Architecture": "x86_64", "OS": "linux"},
                "Engine": {"EngineVersion": ENGINE_VERSION},
            },
            "Status": {"State": "ready", "Addr": "127.0.0.1"},
            **(
                {"ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "127.0.0.1:2377"}}
                if leader
                else {}
            ),
        }

    def _nodes(self, req: Request) -> Response:
        return _json([self._node(n) for n in NODES])

    def _one(self, req: Request, kind: str, ref: str) -> Response:
        if kind == "services":
            return _json(self.service_json(self.swarm.find(ref)))
        if kind == "nodes":
            node = next((n for n in NODES if ref in (n, ident("node", n))), None)
            return _json(self._node(node)) if node else _error(404, f"node {ref} not found")
        task = next((t for t in self._all_tasks() if t["ID"] == ref or t["ID"].startswith(ref)), None)
        return _json(task) if task else _error(404, f"task {ref} not found")


def _matches(wanted: dict[str, list[str]], have: dict[str, list[str]], exact: tuple[str, ...] = ()) -> bool:
    """Engine filters: every key given matches one of its values (names and IDs by prefix, the rest exactly)."""
    for key, values in wanted.items():
        if key not in have or not values:
            continue
        ok = (lambda v, h: v == h) if key in exact else (lambda v, h: h.startswith(v))
        if not any(ok(v, h) for v in values for h in have[key]):
            return False
    return True
