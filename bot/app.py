"""create_app(settings) -> the Bolt app, and the WSGI entry point that serves it."""

from __future__ import annotations

from slack_bolt import App

from bot.config import Settings
from bot.routes import router, table
from bot.runtime import Runtime, build_runtime
from handlers import actions, commands, events, views


def create_app(settings: Settings, runtime: Runtime | None = None) -> App:
    """The Bolt app with every listener registered; ``runtime`` defaults to one built from settings."""
    rt = runtime or build_runtime(settings)
    app = App(
        signing_secret=settings.slack_signing_secret,
        client=rt.slack.client,
        name="rollback-bot",
        # handlers/slack_events.py checks every HTTP request's signature (raw bytes, replay window) before Bolt
        # sees it; Bolt's own check would repeat the HMAC on every ack. Socket Mode has no signature.
        request_verification_enabled=False,
    )
    for module in (commands, actions, views, events):
        module.register(app, rt)
    return app


def wsgi_app(app: App, rt: Runtime):
    """WSGI: the route table (``bot.routes``) over ``app``: ``POST /slack/events``, ``GET /healthz``, ..."""
    return router(table(app, rt))
