"""Signed but malformed requests get 400 (no traceback, nothing changed); unsigned ones 401."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
import urllib.parse

import requests

from bot.sandbox.world import SANDBOX_SIGNING_SECRET


def signed_headers(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> dict:
    ts = str(int(time.time()))
    mac = hmac.new(SANDBOX_SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest(), "Content-Type": content_type}


def malformed_bodies(rand: random.Random, count: int) -> list[tuple[bytes, str]]:
    """Bodies Slack never sends: bad UTF-8, truncated forms, payloads of the wrong shape, huge fields."""
    form = "application/x-www-form-urlencoded"
    shapes = [
        lambda: (bytes(rand.randrange(128, 256) for _ in range(rand.randint(1, 64))), form),
        lambda: (
            b"payload=" + urllib.parse.quote(json.dumps({"type": "block_actions"})[: rand.randint(1, 20)]).encode(),
            form,
        ),
        lambda: (
            b"payload=" + urllib.parse.quote(json.dumps(rand.choice([[], 1, "x", None, {"no": "type"}]))).encode(),
            form,
        ),
        lambda: (b"payload=" + urllib.parse.quote(json.dumps({"type": rand.randint(0, 9)})).encode(), form),
        lambda: (json.dumps({"no_type": "x" * rand.randint(0, 100_000)}).encode(), "application/json"),
        lambda: (json.dumps(rand.choice([[1], "s", 3])).encode(), "application/json"),
        lambda: (b"%" * rand.randint(1, 50) + b"=&&==", form),
        lambda: (("payload=" + "\x00" * rand.randint(1, 100)).encode(), form),
    ]
    return [rand.choice(shapes)() for _ in range(count)]


def test_fuzzed_signed_requests_are_refused_with_400_and_change_nothing(world, bot, caplog):
    url = f"{bot.url}/slack/events"
    channels_before = len(world.slack.channels)
    calls_before = len(world.slack.calls())  # Bolt's auth.test at start
    statuses = []
    with caplog.at_level(logging.INFO):
        for body, content_type in malformed_bodies(random.Random(20261122), 200):
            statuses.append(
                requests.post(url, data=body, headers=signed_headers(body, content_type), timeout=10).status_code
            )
    assert set(statuses) == {400}, {s: statuses.count(s) for s in set(statuses)}
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"
    assert len(world.slack.channels) == channels_before and len(world.slack.calls()) == calls_before, "nothing"


def test_unsigned_or_forged_requests_still_get_401(world, bot):
    body = b"command=%2Frollback&text=shopping-service&user_id=U_ONCALL"
    forged = {**signed_headers(body), "X-Slack-Signature": "v0=" + "0" * 64}
    assert requests.post(f"{bot.url}/slack/events", data=body, headers=forged, timeout=10).status_code == 401
    stale = signed_headers(b"\xff")
    stale["X-Slack-Request-Timestamp"] = str(int(time.time()) - 3600)
    assert requests.post(f"{bot.url}/slack/events", data=b"\xff", headers=stale, timeout=10).status_code == 401
