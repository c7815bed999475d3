"""The emulator's HTTP surface: ``/api/<method>``, response_url posts, and file upload/download URLs.

Requests arrive as Slack accepts them (query string, form-encoded, multipart or JSON bodies; token
as ``Authorization: Bearer`` or ``token``); answers are Slack's: HTTP 200 with ``ok: false`` for
errors, HTTP 429 + ``Retry-After`` when rate limited.
"""

from __future__ import annotations

import json
import time
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from bot.sandbox.httpserver import App, Request, Response
from bot.sandbox.slack import methods_chat, methods_conversations, methods_misc  # noqa: F401 - registers methods
from bot.sandbox.slack.emulator import SlackEmulator
from bot.sandbox.slack.registry import METHODS, SlackError

RETRY_AFTER = 1  # seconds; the emulator keeps this promise (see _rate_limited)
APP_LEVEL = {"apps.connections.open"}  # methods that take the app-level token (xapp-), and only it


def parse_params(req: Request) -> dict[str, Any]:
    """Query string and body parameters, as Slack merges them."""
    params: dict[str, Any] = {k: v[0] for k, v in req.query.items()}
    ctype = req.headers.get("content-type", "")
    if not req.body:
        return params
    if ctype.startswith("application/json"):
        body = json.loads(req.body)
        if isinstance(body, dict):
            params.update(body)
    elif ctype.startswith("multipart/form-data"):
        message = BytesParser().parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body)
        for part in message.get_payload() or []:
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            is_file = part.get_param("filename", header="content-disposition") is not None
            params[name] = payload if is_file else payload.decode("utf-8")
    else:
        params.update(
            {k: v[0] for k, v in parse_qs(req.body.decode("utf-8"), keep_blank_values=True).items()}
        )
    return params


def _rate_limited(emu: SlackEmulator, name: str) -> bool:
    """Over the per-minute limit? Once the Retry-After it announced has passed, the window starts
    afresh, so a client that honours Retry-After gets through (fast tests whatever the limit)."""
    limit = emu.rate_limits.get(name)
    if limit is None:
        return False
    now = time.monotonic()
    window = emu.rate_window[name]
    until = emu.rate_blocked_until.get(name)
    if until is not None:
        if now < until:
            return True
        window.clear()
        del emu.rate_blocked_until[name]
    while window and window[0] <= now - 60:
        window.popleft()
    if len(window) >= limit:
        emu.rate_blocked_until[name] = now + RETRY_AFTER
        return True
    window.append(now)
    return False


def _ratelimited() -> tuple[int, dict, dict]:
    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(RETRY_AFTER)}


def _dispatch(emu: SlackEmulator, name: str, token: str | None, params: dict) -> tuple[int, dict, dict]:
    fn = METHODS.get(name)
    if fn is None:
        return 200, {"ok": False, "error": "unknown_method", "req_method": name}, {}
    if not token:
        return 200, {"ok": False, "error": "not_authed"}, {}
    expected, other = (emu.app_token, emu.bot_token) if name in APP_LEVEL else (emu.bot_token, emu.app_token)
    if token == other:
        return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
    if token != expected:
        return 200, {"ok": False, "error": "invalid_auth"}, {}
    with emu.lock:
        failure = emu.failures[name].popleft() if emu.failures[name] else None
        limited = failure is None and _rate_limited(emu, name)
    if failure == "ratelimited" or limited:
        return _ratelimited()
    if isinstance(failure, tuple):  # ("after", status): the work is done, but the answer is an error
        try:
            fn(emu, params)
        except SlackError:
            pass
        return int(failure[1]), {"ok": False, "error": "internal_error"}, {}
    if isinstance(failure, int) or (isinstance(failure, str) and failure.isdigit()):
        return int(failure), {"ok": False, "error": "internal_error"}, {}
    if failure:
        return 200, {"ok": False, "error": failure}, {}
    try:
        return 200, {"ok": True, **fn(emu, params)}, {}
    except SlackError as exc:
        return exc.status, exc.body(), {}


def _api_call(emu: SlackEmulator, name: str, req: Request) -> Response:
    try:
        params = parse_params(req)
    except (ValueError, UnicodeDecodeError):
        return Response.json({"ok": False, "error": "invalid_json"})
    auth = req.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.pop("token", None)
    params.pop("token", None)
    status, body, headers = _dispatch(emu, name, token, params)
    with emu.lock:
        emu.call_log.append(
            {
                "method": name,
                "params": params,
                "time": emu.clock.now(),
                "status": status,
                "ok": body.get("ok", False),
                "error": body.get("error"),
            }
        )
    return Response.json(body, status=status, headers=headers)


def make_app(emu: SlackEmulator) -> App:
    def app(req: Request) -> Response:
        if not emu.base_url and req.headers.get("host"):
            emu.base_url = f"http://{req.headers['host']}"
        parts = req.path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            return _api_call(emu, parts[1], req)
        if parts[0] == "response" and len(parts) == 2 and req.method == "POST":
            try:
                body = req.json()
            except ValueError:
                body = parse_params(req)
            status, answer = methods_chat.respond(emu, parts[1], body if isinstance(body, dict) else {})
            return Response.json(answer, status=status)
        if parts[0] == "upload" and len(parts) == 2 and req.method == "POST":
            status, text = methods_misc.store_upload(emu, parts[1], req.body)
            return Response.text(text, status=status)
        if parts[0] == "files" and len(parts) >= 2 and req.method == "GET":
            entry = emu.file_store.get(parts[1])
            if (
                req.headers.get("authorization") != f"Bearer {emu.bot_token}"
                or not entry
                or entry["content"] is None
            ):
                return Response.text("not found", status=404)
            return Response(200, entry["content"], {"Content-Type": "application/octet-stream"})
        return Response.json({"ok": False, "error": "not_found"}, status=404)

    return app
