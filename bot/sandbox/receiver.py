"""A webhook receiver for the sandbox: records every POST (headers and body) and can fail on demand."""

from __future__ import annotations

import threading
import time

from bot.sandbox.httpserver import Request, Response, SandboxServer


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[dict] = []  # {"time", "headers", "body", "status"} of every POST, in order
        self.fail_with: int | None = None  # answer every POST with this status (e.g. 503) while set
        self.fail_next = 0  # ... or only the next N POSTs
        self.delay = 0.0  # seconds each answer waits (a slow receiver)
        self._lock = threading.Lock()
        self.server = SandboxServer(self._app)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hooks/incidents"

    def _app(self, request: Request) -> Response:
        time.sleep(self.delay)
        with self._lock:
            status = self.fail_with or (503 if self.fail_next > 0 else 200)
            self.fail_next = max(0, self.fail_next - 1)
            self.received.append(
                {"time": time.monotonic(), "headers": request.headers, "body": request.body, "status": status}
            )
        return Response.json({"ok": status == 200}, status=status)

    def start(self) -> WebhookReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
