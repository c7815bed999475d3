"""PagerDuty's Events API v2, emulated: ``POST /v2/enqueue`` as PagerDuty answers it (202 with ``dedup_key``; 400 for
a bad event), every event kept for the tests (``events``), and failures on demand (``fail(status, times)``)."""

from __future__ import annotations

import json
import secrets
import threading

from bot.sandbox.httpserver import Request, Response, SandboxServer

ACTIONS = ("trigger", "acknowledge", "resolve")


class PagerDutyEmulator:
    def __init__(self) -> None:
        self.routing_key = secrets.token_hex(16)  # 32 characters, as an integration key
        self.events: list[dict] = []  # the accepted ones
        self.attempts = 0  # every POST, accepted or not
        self._fail: list[int] = []  # statuses to answer, one per request, before answering normally
        self._lock = threading.Lock()
        self.server = SandboxServer(self._app)

    @property
    def url(self) -> str:
        return f"{self.server.url}/v2/enqueue"

    def start(self) -> PagerDutyEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def fail(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._fail += [status] * times

    def _app(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v2/enqueue":
            return Response.json({"status": "invalid event", "message": "Not found"}, 404)
        with self._lock:
            self.attempts += 1
            if self._fail:
                return Response.json({"status": "throttled" if self._fail[0] == 429 else "error"}, self._fail.pop(0))
        try:
            event = json.loads(request.body)
        except ValueError:
            return Response.json({"status": "invalid event", "message": "Event object is invalid"}, 400)
        problems = _problems(event, self.routing_key)
        if problems:
            return Response.json(
                {"status": "invalid event", "message": "Event object is invalid", "errors": problems}, 400
            )
        with self._lock:
            self.events.append(event)
        return Response.json({"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}, 202)


def _problems(event: object, routing_key: str) -> list[str]:
    if not isinstance(event, dict):
        return ["the event is not an object"]
    problems = []
    if event.get("routing_key") != routing_key:
        problems.append("'routing_key' is invalid")
    if event.get("event_action") not in ACTIONS:
        problems.append("'event_action' is invalid")
    if event.get("event_action") == "trigger":
        payload = event.get("payload") or {}
        for key in ("summary", "source", "severity"):
            if not payload.get(key):
                problems.append(f"'payload.{key}' is missing")
    elif not event.get("dedup_key"):
        problems.append("'dedup_key' is required for acknowledge and resolve")
    return problems
