"""``POST /slack/events``: Slack's signature and payload shape are checked before Bolt sees the request.

Unsigned or stale -> 401; signed but not of the shape Slack sends (``bot.slack.payloads``) -> 400 with
a log line (Bolt would answer 500 and log a traceback); everything else goes to Bolt's listeners.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import time
from collections.abc import Callable, Iterable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.slack.payloads import malformed

log = logging.getLogger(__name__)
PATH = "/slack/events"


def signed(body: bytes, timestamp: str, signature: str, secret: bytes, now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes (any bytes: a body need not be UTF-8 to be checked)."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > 60 * 5:
        return False
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def handler(app: App, signing_secret: str) -> Callable[[dict, Callable[..., object]], Iterable[bytes]]:
    """The WSGI handler of Slack's requests to ``app``: the one signature check (the app's own is off)."""
    if not signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is empty: no request could be checked")
    slack = SlackRequestHandler(app, path=PATH)
    secret = signing_secret.encode()

    def events(environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
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

    return events
