"""The people of the workspace over Socket Mode: the same commands, clicks, submissions and events as
``SlackDriver``, sent as envelopes on the app's WebSocket (``SocketModeServer``) instead of signed HTTP.

A delivery answers like an HTTP response (``status_code`` 200 once acknowledged, ``json()`` the ack's payload),
so ``OnCall`` and ``SlackDriver.submit_view`` read either the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.sandbox.slack.driver import SlackDriver
from bot.sandbox.slack.emulator import SlackEmulator


@dataclass(frozen=True)
class Acknowledged:
    """The app's acknowledgement of one envelope, read as a response."""

    ack: dict
    status_code: int = 200
    ok: bool = True

    @property
    def payload(self) -> dict | None:
        return self.ack.get("payload")

    @property
    def content(self) -> bytes:
        return json.dumps(self.payload).encode() if self.payload else b""

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return self.payload


class SocketModeDriver(SlackDriver):
    """``SlackDriver`` whose deliveries go over the emulator's Socket Mode WebSocket."""

    def __init__(self, emulator: SlackEmulator, timeout: float = 3.0) -> None:
        super().__init__(emulator, "", "", timeout)
        self._last: tuple[str, dict] | None = None

    def deliver(self, kind: str, data: dict, **sign: Any) -> Acknowledged:  # type: ignore[override]
        if sign:
            raise TypeError(f"Socket Mode envelopes are not signed: {sorted(sign)} makes no sense here")
        self._last = (kind, data)
        return Acknowledged(self.emulator.socket_mode.deliver(kind, data, timeout=self.timeout))

    def retry(self, num: int = 1, reason: str = "timeout") -> Acknowledged:  # type: ignore[override]
        """The last envelope again, as Slack resends one the app did not acknowledge (``retry_attempt``)."""
        if self._last is None:
            raise RuntimeError("nothing was sent yet")
        kind, data = self._last
        return Acknowledged(self.emulator.socket_mode.deliver(kind, data, self.timeout, retry_attempt=num))

    def url_verification(self, challenge: str = "sandbox-challenge", **sign: Any) -> Any:
        raise TypeError("Socket Mode has no URL verification: Slack never calls the app's URL")
