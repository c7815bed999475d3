"""Slack's Socket Mode, emulated: ``apps.connections.open`` hands out a single-use WebSocket URL, and this server
carries the envelopes on it, as Slack does.

The app connects with its app-level token (``xapp-``); the emulator answers ``hello``, then sends each event,
slash command or interaction as an envelope (``envelope_id``, ``type`` of ``events_api`` / ``slash_commands`` /
``interactive``, ``payload``, ``accepts_response_payload``, ``retry_attempt``, ``retry_reason``) and waits for
the app's acknowledgement (``{"envelope_id": ..., "payload": {...}}``, the payload optional: a slash command's
reply or a view submission's ``response_action``). ``disconnect(reason)`` asks the app to reconnect, as Slack
does every few hours (``refresh_requested``). The WebSocket side is the ``websockets`` package's threaded server.
"""

from __future__ import annotations

import http
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve

log = logging.getLogger(__name__)
KINDS = ("events_api", "slash_commands", "interactive")


class NotAcknowledged(AssertionError):
    """The app did not acknowledge an envelope in time (Slack would show the person an error)."""


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    ack: dict | None = None


class SocketModeServer:
    """The WebSocket endpoint of one workspace's app: tickets from ``open_url``, envelopes out, acks in."""

    def __init__(self, app_id: str, host: str = "127.0.0.1") -> None:
        self.app_id, self.host = app_id, host
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._connected = threading.Condition(self._lock)
        self.envelopes: list[dict] = []  # every envelope sent, oldest first (what the app was given)
        self.acks: list[dict] = []  # every acknowledgement received
        self.opened = 0  # connections the app opened (a reconnect adds one)
        self._server: Server | None = None

    # ---- serving --------------------------------------------------------------------------------------

    def start(self) -> SocketModeServer:
        self._server = serve(
            self._session, self.host, 0, process_request=self._admit, compression=None, ping_interval=None
        )
        threading.Thread(target=self._server.serve_forever, name="slack-socket-mode", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Socket Mode server is not started")
        return self._server.socket.getsockname()[1]

    def open_url(self) -> str:
        """What ``apps.connections.open`` answers: a WebSocket URL with a fresh, single-use ticket."""
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    def _admit(self, connection: ServerConnection, request: Any) -> Any:
        """Refuse a URL that ``apps.connections.open`` did not issue, or one used already (401, as Slack)."""
        path, _, query = request.path.partition("?")
        ticket = dict(p.partition("=")[::2] for p in query.split("&")).get("ticket", "")
        with self._lock:
            if path.rstrip("/") == "/link" and ticket in self._tickets:
                self._tickets.discard(ticket)
                return None
        return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")

    def _session(self, connection: ServerConnection) -> None:
        with self._connected:
            self._connections.append(connection)
            self.opened += 1
            self._connected.notify_all()
        connection.send(json.dumps({
            "type": "hello",
            "num_connections": len(self._connections),
            "debug_info": {"host": "sandbox-socket-mode", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }))
        try:
            for message in connection:
                self._acknowledged(message)
        except Exception as exc:  # a connection the app dropped: Slack just forgets it
            log.debug("Socket Mode connection ended: %s", exc)
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    def _acknowledged(self, message: str | bytes) -> None:
        try:
            ack = json.loads(message)
        except ValueError:
            log.warning("Socket Mode: the app sent something that is not JSON: %.80r", message)
            return
        envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
        with self._lock:
            pending = self._pending.get(envelope_id) if isinstance(envelope_id, str) else None
            if pending is None:
                log.warning("Socket Mode: an acknowledgement of no envelope sent: %.120r", message)
                return
            self.acks.append(ack)
            pending.ack = ack
        pending.done.set()

    # ---- what Slack sends -----------------------------------------------------------------------------

    @property
    def live(self) -> int:
        """Connections open now (two while the app moves to a new one, until it closes the old)."""
        with self._lock:
            return len(self._connections)

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Until the app holds a connection (it connects in the background)."""
        deadline = time.monotonic() + timeout
        with self._connected:
            while not self._connections:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no app connected to Socket Mode within {timeout:.0f}s")
                self._connected.wait(left)

    def deliver(self, kind: str, payload: dict, timeout: float = 3.0, retry_attempt: int = 0) -> dict:
        """Send ``payload`` in an envelope of ``kind`` and wait for the app's acknowledgement (Slack waits 3 s);
        the acknowledgement, ``{"envelope_id": ...}`` with its ``payload`` when the app gave one."""
        if kind not in KINDS:
            raise ValueError(f"Socket Mode carries {', '.join(KINDS)}, not {kind!r}")
        self.wait_connected()
        envelope = {
            "envelope_id": secrets.token_hex(18),
            "payload": payload,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        pending = _Pending()
        with self._lock:
            self._pending[envelope["envelope_id"]] = pending
            self.envelopes.append(envelope)
            connection = self._connections[-1]
        connection.send(json.dumps(envelope))
        try:
            if not pending.done.wait(timeout):
                raise NotAcknowledged(f"the app did not acknowledge the {kind} envelope within {timeout:.0f}s")
        finally:
            with self._lock:
                self._pending.pop(envelope["envelope_id"], None)
        return pending.ack or {}

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect (it calls ``apps.connections.open`` again and opens a new WebSocket)."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.send(json.dumps({"type": "disconnect", "reason": reason,
                                        "debug_info": {"host": "sandbox-socket-mode"}}))
