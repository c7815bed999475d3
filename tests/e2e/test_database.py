"""The database side of a rollback against a real MariaDB: the schema each release ran on, recorded when it is
first seen live, shown by ``/rollback history``, and compared by the plan with the schema now."""

from __future__ import annotations

import json

import pytest

from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import ONCALL, World
from tests.databases.conftest import needs_mariadb
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix
from tests.e2e.test_deploy_watch import deploy

DATABASE = {"database": {"url_env": "PRIMARY_DB_URL", "migrations": "flyway"}}
NEW = "registry.local/shopping-service:v1.2.6"


@pytest.fixture
def bot():
    needs_mariadb()
    with World(prometheus=False, databases=True, catalog_overrides={**QUICK_BAKE, **DATABASE}) as world:
        with BotHarness(world, env={"DEPLOY_WATCH_SECONDS": "1"}) as h:
            yield h


def answers(bot, text: str) -> str:
    before = len(bot.world.slack.responses())
    OnCall(bot, ONCALL).type(text)
    found = wait_for(f"the answer to /rollback {text}", lambda: bot.world.slack.responses()[before:], 15)
    return json.dumps(found, ensure_ascii=False)


def test_the_plan_names_the_migrations_a_rollback_crosses_and_requires_the_backup(bot) -> None:
    world, alice = bot.world, OnCall(bot, ONCALL)
    wait_for("v1.2.5 recorded on V12", lambda: "v1.2.5" in answers(bot, f"history {SERVICE}")
             and "schema V12" in answers(bot, f"history {SERVICE}"), 30)  # fmt: skip
    world.databases.migrate("primary", (("13", "add_column orders.coupon_code"), ("14", "drop_table legacy_carts")))
    deploy(world, NEW)  # the release that came with the migrations
    shown = wait_for(
        "v1.2.6 recorded on V14", lambda: "schema V14" in (a := answers(bot, f"history {SERVICE}")) and a, 30
    )
    assert "v1.2.4" in shown and "schema unknown" in shown  # released before the bot watched: never "no migrations"

    alice.type(f"{SERVICE} errors after v1.2.6")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, "rollback_previous")
    plan = alice.message_saying(channel.id, "database: v1.2.5 ran on V12", timeout=30)
    text = json.dumps(plan, ensure_ascii=False)
    assert "the database is at V14: V13 add_column orders.coupon_code" in text
    assert "V14 drop_table legacy_carts" in text and "likely incompatible with v1.2.5" in text
    assert "requires the backup first" in text
