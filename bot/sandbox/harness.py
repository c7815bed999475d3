"""The bot running against a sandbox World, in one process: the demo and the tests share it.

The bot is served over real HTTP by waitress (as in production) and driven by the
Slack driver's signed requests; its worker runs in a thread like ``rollback-bot serve``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import waitress.server

from bot.app import create_app, wsgi_app
from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.sandbox.slack import SlackDriver
from bot.sandbox.world import SANDBOX_SIGNING_SECRET, World
from bot.worker import Worker

T = TypeVar("T")


class BotHarness:
    def __init__(self, world: World, env: dict[str, str] | None = None, verify_timeout: float = 60.0) -> None:
        self.world = world
        self.settings = Settings.from_env({**world.env(), **(env or {})})
        self.rt: Runtime = build_runtime(self.settings)
        self.app = create_app(self.settings, self.rt)
        self.server = waitress.server.create_server(wsgi_app(self.app), host="127.0.0.1", port=0, threads=8)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.worker = Worker(self.rt, lease_seconds=10, poll_seconds=0.2, verify_timeout=verify_timeout)
        self.driver = SlackDriver(world.slack, f"{self.url}/slack/events", SANDBOX_SIGNING_SECRET)
        self._threads: list[threading.Thread] = []

    def start(self) -> BotHarness:
        serving = threading.Thread(target=self.server.run, name="bot-http", daemon=True)
        serving.start()
        self._threads = [serving, self.worker.start_thread()]
        return self

    def stop(self) -> None:
        self.worker.stop()
        self.server.close()
        self.rt.db.dispose()

    def __enter__(self) -> BotHarness:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy; fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
