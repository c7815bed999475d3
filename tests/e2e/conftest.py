"""The bot served over HTTP against a fresh sandbox world, driven by signed Slack requests."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import LEAD, ONCALL, VIEWER, World
from tests.support import need_binary

SERVICE = "shopping-service"
# Tests not about verification bake briefly (one check of 5 s of traffic: shorter ranges are noisy
# in the sandbox); tests/e2e/test_verification.py runs the example's defaults.
QUICK_BAKE = {"analysis": {"interval": "5s", "bake": "5s"}}


def channel_prefix() -> str:
    return f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}"


@pytest.fixture
def world(request):
    """A sandbox world; tests marked ``prometheus`` get real Prometheus scraping the services."""
    wants = request.node.get_closest_marker("prometheus") is not None
    if wants:
        need_binary("prometheus")
    scale = getattr(request.node.get_closest_marker("clock_scale"), "args", [None])[0]
    with World(prometheus=wants, clock_scale=scale, catalog_overrides=QUICK_BAKE) as w:
        yield w


@pytest.fixture
def bot(world, request):
    env = getattr(request.node.get_closest_marker("bot_env"), "args", [{}])[0]
    with BotHarness(world, env=env) as h:
        yield h


@pytest.fixture
def alice(bot):
    return OnCall(bot, ONCALL)


@pytest.fixture
def carol(bot):
    return OnCall(bot, LEAD)


@pytest.fixture
def dave(bot):
    """A viewer: may declare, may not roll back (not in rollback_allowed)."""
    return OnCall(bot, VIEWER)
