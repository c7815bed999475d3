"""The bot running against a sandbox World, in one process: the demo and the tests share it.

The bot is served over real HTTP by waitress (as in production) and driven by the
Slack driver's signed requests, or, with ``socket_mode``, connected to the emulator's Socket Mode WebSocket
and driven by envelopes on it; its worker runs in a thread like ``rollback-bot serve``.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import waitress.server

from bot.app import create_app, wsgi_app
from bot.config import Settings
from bot.redact import RedactingFilter
from bot.runtime import Runtime, build_runtime
from bot.sandbox.slack import SlackDriver, SocketModeDriver
from bot.sandbox.world import SANDBOX_SIGNING_SECRET, World
from bot.worker import Worker

T = TypeVar("T")


class BotHarness:
    def __init__(
        self, world: World, env: dict[str, str] | None = None, worker: bool = True, socket_mode: bool = False
    ) -> None:
        self.world = world
        app_token = {"SLACK_APP_TOKEN": world.slack.app_token} if socket_mode else {}
        merged = {**world.env(), **app_token, **(env or {})}
        self.settings = Settings.from_env(merged)
        # boto3 reads its credentials and AWS_ENDPOINT_URL from the process environment only, as in production;
        # so does the schema reader each catalog `database.url_env` (the world's PRIMARY_DB_URL, FALLBACK_DB_URL)
        process_env = {k: v for k, v in merged.items() if k.startswith("AWS_") or k.endswith("_DB_URL")}
        self._saved_env = {k: os.environ.get(k) for k in process_env}
        os.environ.update(process_env)
        self.rt: Runtime = build_runtime(self.settings)
        self.app = create_app(self.settings, self.rt)
        self.server = waitress.server.create_server(
            wsgi_app(self.app, self.rt),
            host="127.0.0.1",
            port=0,
            threads=8,
            asyncore_use_poll=True,  # as `serve` does: select() dies once a descriptor passes 1024
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.worker = Worker(self.rt, lease_seconds=10, poll_seconds=0.2)
        self.socket = None  # the bot's Socket Mode connection, opened by start()
        self.driver: SlackDriver = (
            SocketModeDriver(world.slack)
            if socket_mode
            else SlackDriver(world.slack, f"{self.url}/slack/events", SANDBOX_SIGNING_SECRET)
        )
        self._threads: list[threading.Thread] = []
        self._closing = False
        self.with_worker = worker
        self.log = LogTail()

    def diagnosis(self) -> str:
        """What to read when something the test waited for never happened: the bot's log and the timelines."""
        from bot.state import timeline
        from bot.state.models import Incident

        lines = ["--- the bot's log (last lines) ---", *self.log.lines()]
        try:
            incidents = self.rt.db.transaction(lambda s: list(s.query(Incident).order_by(Incident.id)))
            for incident in incidents:
                lines.append(f"--- timeline of {incident.key} ({incident.status}) ---")
                lines += [
                    f"{e.at:%H:%M:%S.%f} {e.kind:<20} {e.actor:<10} {e.text}"
                    for e in timeline.events(self.rt.db, incident.id)
                ]
        except Exception as exc:  # the diagnosis must not hide the timeout
            lines.append(f"(could not read the timelines: {exc})")
        return "\n".join(lines)

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
        """``wait_for`` that, on timeout, says what the bot logged and recorded meanwhile."""
        try:
            return wait_for(what, probe, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.diagnosis()}") from None

    def start(self) -> BotHarness:
        self.log.attach()
        serving = threading.Thread(target=self._serve, name="bot-http", daemon=True)
        serving.start()
        self._threads = [serving, *([self.worker.start_thread()] if self.with_worker else [])]
        if self.settings.slack_app_token:  # as `serve` does: Slack over the WebSocket, the port for the probes
            from bot.socket_mode import socket_mode

            self.socket = socket_mode(self.app, self.settings.slack_app_token)
            self.socket.connect()
            self.world.slack.socket_mode.wait_connected()
        self.world.scrape_bot(self.url.removeprefix("http://"))  # the bot's own /metrics, as in a cluster
        self.world.connect_alerts(self.url)
        return self

    def _serve(self) -> None:
        try:
            self.server.run()
        except OSError:
            if not self._closing:  # closing the socket under waitress' select loop ends it this way
                raise

    def stop(self) -> None:
        self._closing = True
        if self.socket is not None:
            self.socket.close()
        self.world.scrape_bot(self.url.removeprefix("http://"), scraped=False)
        # Its threads first (or every harness leaves 8 behind): a thread finishing a response still pulls
        # the server's trigger, and closing the server first closes that pipe under it (EBADF, a traceback).
        self.server.task_dispatcher.shutdown(timeout=5)
        self.server.close()
        self.worker.stop()
        self.rt.close()
        self.log.detach()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> BotHarness:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LogTail(logging.Handler):
    """The last lines the bot logged (every level), kept in memory for a timeout's diagnosis."""

    def __init__(self, size: int = 60) -> None:
        super().__init__(logging.DEBUG)
        self._lines: collections.deque[str] = collections.deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
        self.addFilter(RedactingFilter())
        self._logger = logging.getLogger("bot")
        self._level = self._logger.level

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(self.format(record))

    def lines(self) -> list[str]:
        return list(self._lines)

    def attach(self) -> None:
        self._logger.addHandler(self)
        if self._logger.getEffectiveLevel() > logging.INFO:
            self._logger.setLevel(logging.INFO)

    def detach(self) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)


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


class OnCall:
    """An on-call engineer at the keyboard: types commands, clicks what the bot shows, fills modals.

    Every step waits for what a person would wait for (a channel, a button, a message),
    so the demo and the end-to-end tests read like the incident they play.
    """

    def __init__(self, harness: BotHarness, user_id: str) -> None:
        self.h, self.user = harness, user_id
        self.slack = harness.world.slack

    def type(self, text: str, channel_id: str | None = None):
        response = self.h.driver.command(self.user, text, channel_id=channel_id)
        if response.status_code != 200:
            raise AssertionError(f"/rollback {text} answered HTTP {response.status_code}: {response.text}")
        return response

    def channel(self, prefix: str, timeout: float = 20.0):
        """The incident channel whose name starts with ``prefix``, once the bot has created it."""

        def probe():
            return next((c for c in self.slack.channels.values() if c.name.startswith(prefix)), None)

        return self.h.wait_for(f"a channel named {prefix}…", probe, timeout)

    def message_with(self, channel_id: str, action_id: str, timeout: float = 30.0) -> dict:
        """The newest message in the channel that shows element ``action_id``."""

        def probe():
            for message in reversed(self.slack.messages(channel_id)):
                for block in message.get("blocks") or []:
                    if any(e.get("action_id") == action_id for e in block.get("elements") or []):
                        return message
            return None

        return self.h.wait_for(f"a message with {action_id!r}", probe, timeout)

    def message_saying(self, channel_id: str, *phrases: str, timeout: float = 90.0) -> dict:
        """The first message whose text or blocks contain one of ``phrases``."""

        def probe():
            for m in self.slack.messages(channel_id):
                shown = (m.get("text") or "") + json.dumps(m.get("blocks") or [], ensure_ascii=False)
                if any(p in shown for p in phrases):
                    return m
            return None

        return self.h.wait_for(f"a message saying one of {phrases}", probe, timeout)

    def click(self, channel_id: str, action_id: str, value: str | None = None) -> None:
        message = self.message_with(channel_id, action_id)
        response = self.h.driver.click(self.user, message, action_id, selected_option=value, channel_id=channel_id)
        if response.status_code != 200:
            raise AssertionError(f"click on {action_id} answered HTTP {response.status_code}")

    def modal(self, callback_id: str, timeout: float = 10.0) -> dict:
        def probe():
            return next(
                (
                    v
                    for v in reversed(self.slack.views_opened())
                    if v.get("callback_id") == callback_id and v["id"] not in self.slack.closed_views
                ),
                None,
            )

        return self.h.wait_for(f"the {callback_id!r} modal", probe, timeout)

    def submit(self, view: dict, values: dict[str, dict[str, object]]) -> None:
        response = self.h.driver.submit_view(self.user, view, values)
        if response.status_code != 200:
            raise AssertionError(f"submitting {view.get('callback_id')} answered HTTP {response.status_code}")
