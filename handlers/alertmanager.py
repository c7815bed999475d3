"""``POST /alerts/alertmanager``: Alertmanager's webhook (version 4), turned into ``bot.incidents.alerts``.

Authenticated by ``Authorization: Bearer <ALERTMANAGER_TOKEN>`` or basic auth (``ALERTMANAGER_USERNAME``,
default ``alertmanager``, with the token as password); anything else, or no token set, is 401. A body that
is not a v4 notification is 400 and changes nothing. Accepted: 200 with the services the alerts went to and
the alerts that matched none; the incidents are declared in the background.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable, Iterable

from bot.incidents import alerts
from bot.incidents.alert_payload import BadAlerts, parse
from bot.runtime import Runtime

log = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024  # bytes; a thousand alerts with long annotations fit


def authorized(header: str, token: str | None, username: str) -> bool:
    """Whether ``header`` carries the token, as a bearer token or as basic auth's password."""
    if not token:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        same_user = hmac.compare_digest(user.encode(), username.encode())
        return hmac.compare_digest(password.encode(), token.encode()) and same_user
    return False


def handler(rt: Runtime) -> Callable[[dict, Callable[..., object]], Iterable[bytes]]:
    settings = rt.settings

    def webhook(environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
        if not authorized(
            environ.get("HTTP_AUTHORIZATION", ""), settings.alertmanager_token, settings.alertmanager_username
        ):
            why = "no ALERTMANAGER_TOKEN is set" if not settings.alertmanager_token else "wrong or missing credentials"
            log.warning("401 on %s: %s", environ.get("PATH_INFO"), why)
            return _answer(
                start_response,
                "401 Unauthorized",
                {"error": f"unauthorized: {why}"},
                [("WWW-Authenticate", 'Bearer realm="rollback-bot", Basic realm="rollback-bot"')],
            )
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return _answer(start_response, "413 Payload Too Large", {"error": f"at most {MAX_BODY} bytes"})
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            notification = parse(body)
        except BadAlerts as exc:
            log.warning("400 on %s: %s", environ.get("PATH_INFO"), exc)
            return _answer(start_response, "400 Bad Request", {"error": f"not an Alertmanager v4 webhook: {exc}"})
        receipt = alerts.receive(rt, notification)
        return _answer(start_response, "200 OK", receipt.json())

    return webhook


def _answer(start_response: Callable[..., object], status: str, doc: dict, headers: list | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json"), *(headers or [])])
    return [json.dumps(doc).encode()]
