"""The emulator's Socket Mode as slack_sdk's own clients see it: apps.connections.open takes only the app-level
token, its URL opens one WebSocket once, and the envelopes come with Slack's fields and wait for an ack."""

from __future__ import annotations

import json
import threading

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.sandbox.slack.socket_mode import NotAcknowledged
from tests.slack_emulator.conftest import TOKEN

APP_TOKEN = "xapp-sandbox"


@pytest.fixture
def socket_mode(emulator):
    server = emulator.socket_mode.start()
    yield server
    server.stop()


def test_connections_open_takes_only_the_app_level_token(emulator, socket_mode):
    url = WebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)["url"]
    assert url.startswith(f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=")
    with pytest.raises(SlackApiError) as bot_token:
        WebClient(base_url=emulator.api_url).apps_connections_open(app_token=TOKEN)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as wrong:
        WebClient(base_url=emulator.api_url).apps_connections_open(app_token="xapp-someone-else")
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_token_on_a_bot_method:
        WebClient(base_url=emulator.api_url, token=APP_TOKEN).chat_postMessage(channel="#general", text="hi")
    assert app_token_on_a_bot_method.value.response["error"] == "not_allowed_token_type"


def test_a_url_opens_one_websocket_once_and_starts_with_hello(emulator, socket_mode):
    url = WebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)["url"]
    with connect(url) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello" and hello["connection_info"] == {"app_id": emulator.app_id}
        with pytest.raises(InvalidStatus) as reused:
            connect(url)
        assert reused.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        connect(url.replace("ticket=", "ticket=forged"))


def test_slack_sdk_receives_envelopes_and_its_ack_payload_comes_back(emulator, socket_mode):
    client = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=emulator.api_url, token=TOKEN))
    received: list = []

    def listener(c, req) -> None:
        received.append((req.type, req.envelope_id, req.payload, req.accepts_response_payload))
        if req.type == "slash_commands":
            c.send_socket_mode_response(SocketModeResponse(req.envelope_id, payload={"text": "on it"}))
        elif req.payload.get("event", {}).get("type") != "ignored":
            c.send_socket_mode_response(SocketModeResponse(req.envelope_id))

    client.socket_mode_request_listeners.append(listener)
    client.connect()
    try:
        ack = socket_mode.deliver("slash_commands", {"command": "/rollback", "text": "help"})
        assert ack == {"envelope_id": received[0][1], "payload": {"text": "on it"}}
        assert received[0][0::2] == ("slash_commands", {"command": "/rollback", "text": "help"})
        assert received[0][3] is True
        event = {"type": "event_callback", "event": {"type": "app_mention"}}
        assert socket_mode.deliver("events_api", event) == {"envelope_id": received[1][1]}
        assert received[1][3] is False, "an event's ack carries nothing"
        with pytest.raises(NotAcknowledged):
            socket_mode.deliver("events_api", {"type": "event_callback", "event": {"type": "ignored"}}, timeout=0.5)
        with pytest.raises(ValueError, match="Socket Mode carries"):
            socket_mode.deliver("url_verification", {})
        assert [e["type"] for e in socket_mode.envelopes] == ["slash_commands", "events_api", "events_api"]
        assert {"envelope_id", "payload", "type", "accepts_response_payload", "retry_attempt", "retry_reason"} == set(
            socket_mode.envelopes[0]
        )
    finally:
        threading.Thread(target=client.close, daemon=True).start()
