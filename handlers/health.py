"""``GET /healthz``: the process answers HTTP (liveness; it reads nothing). ``GET /readyz``: the database and a
live worker (readiness: ``bot.readiness``), 503 with the reasons otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from bot import readiness
from bot.runtime import Runtime

WSGIApp = Callable[[dict, Callable[..., object]], Iterable[bytes]]


def healthz(environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status":"ok"}']


def readyz(rt: Runtime) -> WSGIApp:
    def handler(environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
        reasons = readiness.problems(rt)
        status = "503 Service Unavailable" if reasons else "200 OK"
        start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
        body = {"status": "not ready", "reasons": reasons} if reasons else {"status": "ready"}
        return [json.dumps(body).encode()]

    return handler
