"""Socket Mode: Slack's envelopes over a WebSocket that the bot opens (``SLACK_APP_TOKEN``), instead of signed
HTTP requests to ``POST /slack/events``. For a bot that Slack cannot reach (behind a firewall, on a laptop).

The WebSocket is slack_sdk's built-in client, opened through ``apps.connections.open`` on the bot's Web API
client (so ``SLACK_API_URL`` applies) with the app-level token: Slack has authenticated the connection, so
its envelopes carry no signature. The payload shape check of the HTTP path (``bot.slack.payloads``) runs on
every envelope before Bolt sees it; one of the wrong shape is acknowledged empty (or Slack sends it again)
and logged, the listeners never see it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.slack.payloads import body_problem

log = logging.getLogger(__name__)


class CheckedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler with the shape check in front of Bolt."""

    def handle(self, client: Any, req: Any) -> None:
        payload = req.payload
        why = body_problem(payload) if isinstance(payload, dict) else "the payload is not an object"
        if why:
            log.warning("Socket Mode: a %s envelope refused: %s", req.type, why)
            client.send_socket_mode_response({"envelope_id": req.envelope_id})
            return
        super().handle(client, req)


def socket_mode(app: App, app_token: str) -> SocketModeHandler:
    """The bot's Socket Mode connection (``connect()`` opens it in the background, ``close()`` ends it)."""
    return CheckedSocketModeHandler(app, app_token)
