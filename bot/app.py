"""create_app(settings) -> the Bolt app, and the WSGI entry point that serves it."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from handlers import actions, commands, events, views

log = logging.getLogger(__name__)


def create_app(settings: Settings, runtime: Runtime | None = None) -> App:
    """The Bolt app with every listener registered; ``runtime`` defaults to one built from settings."""
    rt = runtime or build_runtime(settings)
    app = App(
        signing_secret=settings.slack_signing_secret,
        client=rt.slack.client,
        name="rollback-bot",
    )
    for module in (commands, actions, views, events):
        module.register(app, rt)
    return app


def wsgi_app(app: App, path: str = "/slack/events"):
    """WSGI: ``POST /slack/events`` for Slack, ``GET /healthz`` for the load balancer."""
    slack = SlackRequestHandler(app, path=path)

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}']
        return slack(environ, start_response)

    return application
