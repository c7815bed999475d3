"""Outgoing webhooks: one signed JSON POST per state change, retried with backoff, never holding the incident."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL, WEBHOOK_SECRET_ENV, World
from bot.slack.views import ActionId
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix
from tests.e2e.test_strategies import postmortem
from tests.e2e.test_time_figures import declare_and_roll_back


@pytest.fixture
def hooked(monkeypatch):
    with World(webhooks=True, catalog_overrides=QUICK_BAKE) as world:
        monkeypatch.setenv(WEBHOOK_SECRET_ENV, world.webhook_secret)
        with BotHarness(world) as bot:
            yield bot


def delivered(world: World) -> list[dict]:
    return [json.loads(r["body"]) for r in world.webhooks.received if r["status"] == 200]


def valid_signature(world: World, request: dict) -> bool:
    h = request["headers"]
    signed = h["x-rollback-bot-timestamp"].encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(world.webhook_secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, h["x-rollback-bot-signature"])


def test_each_state_change_is_one_signed_post(hooked):
    bot, world = hooked, hooked.world
    alice = OnCall(bot, ONCALL)
    channel, _ = declare_and_roll_back(alice)
    alice.message_with(channel.id, ActionId.RESOLVE)
    postmortem(world, alice, channel.id)

    def names():
        got = [d["event"] for d in delivered(world)]
        return got if "resolved" in got else None

    got = bot.wait_for("the resolved webhook", names)
    outcome = [n for n in got if n in ("verified", "failed")]
    assert got == ["declared", "decided", "rollback_started", *outcome, "resolved"], got
    assert all(valid_signature(world, r) for r in world.webhooks.received)
    first = delivered(world)[0]
    assert first["incident"]["service"] == SERVICE and first["incident"]["key"].startswith("INC-")
    assert first["actor"] == ONCALL and delivered(world)[-1]["incident"]["channel_id"] == channel.id
    assert delivered(world)[-1]["incident"]["status"] == "resolved"
    keys = [r["headers"]["idempotency-key"] for r in world.webhooks.received]
    assert len(set(keys)) == len(keys), "one POST per state change"


def test_a_failing_receiver_is_retried_with_backoff_and_never_holds_the_incident(hooked):
    bot, world = hooked, hooked.world
    world.webhooks.fail_next = 2
    alice = OnCall(bot, ONCALL)
    alice.type(f"{SERVICE} checkout errors")
    alice.message_with(alice.channel(channel_prefix()).id, ActionId.ROLLBACK_PREVIOUS)
    attempts = bot.wait_for("the third attempt", lambda: len(world.webhooks.received) >= 3 and world.webhooks.received)
    assert [a["status"] for a in attempts[:3]] == [503, 503, 200]
    assert len({a["headers"]["idempotency-key"] for a in attempts[:3]}) == 1, "the same delivery, retried"
    gaps = [b["time"] - a["time"] for a, b in zip(attempts, attempts[1:3], strict=False)]
    assert gaps[1] > gaps[0] * 1.5, f"backoff grows: {gaps}"

    world.webhooks.fail_with, world.webhooks.delay = 500, 3.0  # down and slow from now on
    started = time.monotonic()
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.FORWARD_FIX)
    alice.message_saying(channel.id, "chose a *forward fix*", timeout=10)
    assert time.monotonic() - started < 5, "the incident went on while the receiver hung"
    bot.wait_for("the retries of the decision", lambda: sum(r["status"] == 500 for r in world.webhooks.received) >= 2)
