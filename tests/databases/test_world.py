"""The sandbox's database world: two real databases with a Flyway history and orders, only when asked for."""

from __future__ import annotations

import sqlalchemy as sa

from bot.sandbox.databases import BASELINE
from bot.sandbox.world import World
from tests.databases.conftest import needs_mariadb


def test_each_database_holds_a_flyway_history_and_orders(dbs) -> None:
    dbs.migrate("primary", (("13", "add_column orders.coupon_code"),))
    dbs.write_orders("primary", 5)
    with dbs.engine("primary").connect() as conn:
        rows = conn.execute(sa.text("SELECT version, description FROM flyway_schema_history ORDER BY installed_rank"))
        versions = [tuple(r) for r in rows]
    assert versions == [*BASELINE, ("13", "add_column orders.coupon_code")]
    assert (dbs.count("primary"), dbs.count("fallback")) == (105, 100)  # the primary drifts from the fallback


def test_a_world_starts_databases_only_when_asked() -> None:
    needs_mariadb()
    plain = World(prometheus=False).start()
    try:
        assert plain.databases is None and "PRIMARY_DB_URL" not in plain.env()
    finally:
        plain.stop()
    with World(prometheus=False, databases=True) as world:
        env = world.env()
        assert world.databases.kind == "mariadb"
        assert env["PRIMARY_DB_URL"].startswith("mysql+pymysql://") and "FALLBACK_DB_URL" in env
        assert world.databases.count("fallback") == 100
