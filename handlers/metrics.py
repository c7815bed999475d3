"""``GET /metrics``: this process's own metrics in Prometheus' text format (``bot.telemetry`` says which)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot import telemetry


def metrics(environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
    body, content_type = telemetry.exposition()
    start_response("200 OK", [("Content-Type", content_type)])
    return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []
