"""``GET /healthz``: the process answers HTTP (the load balancer's liveness check; it reads nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def healthz(environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status":"ok"}']
