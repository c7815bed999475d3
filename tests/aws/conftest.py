"""A sandbox world whose ECS service (orders, in moto behind the front) a strategy acts on directly."""

from __future__ import annotations

import pytest

from bot.providers.clients import Clients
from bot.sandbox.world import World
from bot.strategies.base import Target
from bot.strategies.options import to_options


@pytest.fixture
def world(monkeypatch):
    with World(prometheus=False) as w:
        for key, value in w.aws.env().items():  # what the bot's process environment holds in the sandbox
            monkeypatch.setenv(key, value)
        yield w


@pytest.fixture
def clients(world):
    built = Clients()
    yield built
    built.close()


@pytest.fixture
def ecs_strategy(clients):
    from bot.providers.aws.ecs.strategy import EcsRollback

    return EcsRollback(clients)


def orders_target(world, to_revision: int | None = None) -> Target:
    from bot.config import load_catalog

    service = load_catalog(world.catalog_path).services["orders"]
    return Target(service="orders", locator={}, to_revision=to_revision, options=to_options(service.options))
