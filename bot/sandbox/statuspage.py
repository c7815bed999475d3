"""Atlassian Statuspage's REST API as far as the bot uses it: a page's components, read and set.

``GET`` / ``PATCH /v1/pages/{page}/components/{id}`` with ``Authorization: OAuth <key>``; 401 for another key,
404 for another page or component, 422 for a status Statuspage does not have. ``calls`` logs every request."""

from __future__ import annotations

import re
import secrets
import threading

from bot.sandbox.httpserver import Request, Response, SandboxServer

STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage")
_PATH = re.compile(r"^/v1/pages/([^/]+)/components/([^/]+)$")


class StatuspageEmulator:
    def __init__(self, components: list[str]) -> None:
        self.page_id = "sandboxpage"
        self.api_key = secrets.token_hex(12)
        self.components = {c: {"id": c, "name": c, "status": "operational"} for c in components}
        self.calls: list[dict] = []  # {"method", "component", "status", "answer"}
        self.down = False  # answer 503 while set
        self._lock = threading.Lock()
        self.server = SandboxServer(self._app)

    @property
    def url(self) -> str:
        return f"{self.server.url}/v1"

    def status(self, component: str) -> str:
        with self._lock:
            return self.components[component]["status"]

    def _app(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        asked = (request.json() or {}).get("component", {}).get("status") if request.method == "PATCH" else None
        answer = self._answer(request, match, asked)
        with self._lock:
            self.calls.append(
                {
                    "method": request.method,
                    "component": match and match.group(2),
                    "status": asked,
                    "answer": answer.status,
                }
            )
        return answer

    def _answer(self, request: Request, match, asked: str | None) -> Response:
        if self.down:
            return Response.json({"error": "unavailable"}, 503)
        if request.headers.get("authorization") != f"OAuth {self.api_key}":
            return Response.json({"error": "Could not authenticate"}, 401)
        if not match or match.group(1) != self.page_id or match.group(2) not in self.components:
            return Response.json({"error": "Not found"}, 404)
        component = self.components[match.group(2)]
        if request.method == "PATCH":
            if asked not in STATUSES:
                return Response.json({"error": f"status is invalid: {asked!r}"}, 422)
            with self._lock:
                component["status"] = asked
        elif request.method != "GET":
            return Response.json({"error": "method"}, 405)
        return Response.json(dict(component))

    def start(self) -> StatuspageEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
