"""Fixtures: a running Slack emulator, a WebClient on it, and a tiny real Bolt app served over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.slack import SlackDriver, SlackEmulator

TOKEN = "xoxb-sandbox"
SECRET = "sandbox-signing-secret"

CARD = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*INC-1* shopping-service is failing"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "roll_back",
                "text": {"type": "plain_text", "text": "Roll back"},
                "value": "previous",
                "style": "danger",
            },
            {
                "type": "static_select",
                "action_id": "choose",
                "placeholder": {"type": "plain_text", "text": "Revision"},
                "options": [
                    {"text": {"type": "plain_text", "text": f"rev {n}"}, "value": str(n)} for n in (3, 4)
                ],
            },
        ],
    },
]
MODAL = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare an incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {
            "type": "input",
            "block_id": "service",
            "label": {"type": "plain_text", "text": "Service"},
            "element": {
                "type": "static_select",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": s}, "value": s} for s in ("shop", "cart")
                ],
            },
        },
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due"},
            "element": {"type": "datepicker", "action_id": "date"},
        },
        {
            "type": "input",
            "block_id": "owner",
            "optional": True,
            "label": {"type": "plain_text", "text": "Owner"},
            "element": {"type": "users_select", "action_id": "user"},
        },
    ],
}


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[SandboxServer, dict]]:
    """One loopback server for the session; each test's fresh emulator is swapped in behind it."""
    current: dict = {}
    server = SandboxServer(lambda req: current["app"](req)).start()
    yield server, current
    server.stop()


@pytest.fixture
def emulator(_server: tuple[SandboxServer, dict]) -> SlackEmulator:
    server, current = _server
    emu = SlackEmulator(bot_token=TOKEN)
    emu.base_url = server.url
    current["app"] = emu.app
    return emu


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(base_url=emulator.api_url, token=TOKEN)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class BoltBot:
    """What the tiny Bolt app received, and where it listens."""

    url: str
    commands: list[dict] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    submissions: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    retry_headers: list[tuple[str, str]] = field(default_factory=list)


def _bolt_app(emulator: SlackEmulator, bot: BoltBot) -> App:
    """A small real Bolt app: /rollback posts a card (or opens a modal), buttons update the card."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(base_url=emulator.api_url, token=TOKEN),
        process_before_response=True,
    )

    @app.command("/rollback")
    def declare(ack, body, client, respond, request):
        ack()
        bot.commands.append(body)
        headers = request.headers
        bot.retry_headers.append(
            (headers.get("x-slack-retry-num", [""])[0], headers.get("x-slack-retry-reason", [""])[0])
        )
        if not body["text"]:
            client.views_open(trigger_id=body["trigger_id"], view=MODAL)
            return
        client.chat_postMessage(channel="#incidents", text="INC-1", blocks=CARD)
        respond(f"Declaring an incident for {body['text']}")

    @app.action("roll_back")
    @app.action("choose")
    def decide(ack, body, client):
        ack()
        bot.actions.append(body)
        action = body["actions"][0]
        chosen = action.get("value") or action["selected_option"]["value"]
        client.chat_update(
            channel=body["channel"]["id"],
            ts=body["message"]["ts"],
            text="Rolling back",
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"Rolling back to {chosen}"}}],
        )

    @app.view("declare")
    def submitted(ack, body, view):
        values = view["state"]["values"]
        if values["reason"]["text"]["value"] == "?":
            ack(response_action="errors", errors={"reason": "Say what is broken"})
            return
        ack()
        bot.submissions.append(body)

    @app.event("app_mention")
    def mentioned(body, say):
        bot.events.append(body)
        say("I am here")

    return app


@pytest.fixture
def bolt(emulator: SlackEmulator) -> Iterator[BoltBot]:
    bot = BoltBot(url="")
    app = _bolt_app(emulator, bot)
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    bot.url = f"http://127.0.0.1:{server.server_port}/slack/events"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield bot
    server.shutdown()
    server.server_close()


@pytest.fixture
def driver(emulator: SlackEmulator, bolt: BoltBot) -> SlackDriver:
    return SlackDriver(emulator, bolt.url, SECRET)
