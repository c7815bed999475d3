"""create_app(settings) -> the Bolt app, and the WSGI entry point that serves it."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
import urllib.parse

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


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a (signed) request body is not one Slack sends, or None when it has a shape Bolt can route."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    try:
        if content_type.startswith("application/json"):
            data = json.loads(text)
        else:
            form = urllib.parse.parse_qs(text, strict_parsing=bool(text), errors="strict")
            if "payload" not in form:
                return None if "command" in form or "ssl_check" in form else "no command and no payload"
            data = json.loads(form["payload"][0])
    except ValueError as exc:
        return f"the body cannot be parsed ({type(exc).__name__})"
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return "the payload has no type"
    return None


def signed(body: bytes, timestamp: str, signature: str, secret: bytes, now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes (any bytes: a body need not be UTF-8 to be checked)."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > 60 * 5:
        return False
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def wsgi_app(app: App, signing_secret: str, path: str = "/slack/events"):
    """WSGI: ``POST /slack/events`` for Slack, ``GET /healthz`` for the load balancer.

    Every POST is checked here first: unsigned or stale -> 401; signed but not a body Slack sends ->
    400 (Bolt would answer 500 and log a traceback for those).
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
                log.info("400 for a signed request: %s", why)
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [f"Bad request: {why}".encode()]
        return slack(environ, start_response)

    return application
