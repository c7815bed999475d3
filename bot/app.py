"""create_app(settings) -> the Bolt app, and the WSGI entry point that serves it."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import time

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.slack.payloads import malformed
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


def signed(body: bytes, timestamp: str, signature: str, secret: bytes, now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes (any bytes: a body need not be UTF-8 to be checked)."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > 60 * 5:
        return False
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def wsgi_app(app: App, signing_secret: str, path: str = "/slack/events"):
    """WSGI: ``POST /slack/events`` for Slack, ``GET /healthz`` for the load balancer.

    Every POST is checked here first: unsigned or stale -> 401; then, signed but not of the shape Slack
    sends (``bot.slack.payloads``) -> 400 with a log line (Bolt would answer 500 and log a traceback).
    """
    slack = SlackRequestHandler(app, path=path)
    secret = signing_secret.encode()

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}']
        if environ.get("REQUEST_METHOD") == "POST" and secret:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
            if not signed(body, timestamp, environ.get("HTTP_X_SLACK_SIGNATURE", ""), secret):
                start_response("401 Unauthorized", [("Content-Type", "text/plain")])
                return [b"Unauthorized: the request is not signed by Slack, or it is too old"]
            why = malformed(body, environ.get("CONTENT_TYPE", ""))
            if why:
                log.warning("400 for a signed request: %s", why)
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [f"Bad request: {why}".encode()]
        return slack(environ, start_response)

    return application
