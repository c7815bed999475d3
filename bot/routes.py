"""The HTTP route table: which handler serves which method and path.

A new endpoint (``/readyz``, ``/metrics``, ``/alerts/alertmanager``) is one ``Route`` line in ``table``
and a thin module under ``handlers/``. Anything else is answered here: an unknown path gets a 404 that
names what is served, a known path asked with the wrong method a 405 with ``Allow``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt import App

from bot.runtime import Runtime
from handlers import alertmanager, health, metrics, slack_events

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    handler: WSGIApp


def table(app: App, rt: Runtime) -> tuple[Route, ...]:
    """Every endpoint the bot serves, one line each."""
    return (
        Route("/slack/events", ("POST",), slack_events.handler(app, rt.settings.slack_signing_secret)),
        Route("/alerts/alertmanager", ("POST",), alertmanager.handler(rt)),
        *probes(rt),
    )


def probes(rt: Runtime) -> tuple[Route, ...]:
    """What the platform asks of every process, the worker's own port (``METRICS_PORT``) included."""
    return (
        Route("/healthz", ("GET", "HEAD"), health.healthz),
        Route("/readyz", ("GET", "HEAD"), health.readyz(rt)),
        Route("/metrics", ("GET", "HEAD"), metrics.metrics),
    )


def router(routes: Sequence[Route]) -> WSGIApp:
    """One WSGI app over ``routes``: the first route of the path that takes the method serves the request."""
    by_path: dict[str, list[Route]] = {}
    for route in routes:
        by_path.setdefault(route.path, []).append(route)
    served = ", ".join(f"{'|'.join(r.methods)} {r.path}" for r in routes)

    def application(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        candidates = by_path.get(path)
        if not candidates:
            return _plain(start_response, "404 Not Found", f"Not found: {path} is not served here (served: {served}).")
        for route in candidates:
            if method in route.methods:
                return route.handler(environ, start_response)
        allowed = ", ".join(dict.fromkeys(m for r in candidates for m in r.methods))
        text = f"Method not allowed: {path} answers {allowed}, not {method}."
        return _plain(start_response, "405 Method Not Allowed", text, [("Allow", allowed)])

    return application


def _plain(start_response: StartResponse, status: str, text: str, headers: list | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])])
    return [text.encode()]
