"""The schema a rollback crosses, read from a real database for each migration tool the catalog accepts."""

from __future__ import annotations

import sqlalchemy as sa

from bot.config.database import DatabaseRef
from bot.schema import compare, read_schema, read_service_schema

LIQUIBASE = """CREATE TABLE DATABASECHANGELOG (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL,
    FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TIMESTAMP NOT NULL, ORDEREXECUTED INT NOT NULL,
    EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255))"""


def test_flyway_lists_the_migrations_since_the_targets_schema_and_flags_a_drop(dbs) -> None:
    dbs.migrate("primary", (("13", "add_column orders.coupon_code"), ("14", "drop_table legacy_carts")), by="deploy")
    crossing = compare("12", read_schema(dbs.urls["primary"], "flyway"))
    words = crossing.words("v1.2.4")
    assert words.startswith("v1.2.4 ran on V12; the database is at V14: V13 add_column orders.coupon_code (on 2026-")
    assert "by deploy" in words and words.endswith(
        "V14 drop_table legacy_carts (on 2026-01-15 00:00:00 by deploy) ⚠ likely incompatible"
    )
    assert crossing.differs and [m.version for m in crossing.flagged] == ["14"]
    same = compare("12", read_schema(dbs.urls["fallback"], "flyway"))
    assert not same.differs and same.words("v1.2.4") == "v1.2.4 ran on V12, the schema the database is at now"


def test_liquibase_reads_the_changelog_in_execution_order(dbs) -> None:
    _, url = dbs.scratch()
    rows = [("1", "create orders"), ("2", "add coupon_code"), ("3", "rename column total to amount")]
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(LIQUIBASE))
        for order, (cid, desc) in enumerate(rows, start=1):
            conn.execute(
                sa.text("INSERT INTO DATABASECHANGELOG VALUES (:i, 'dba', 'db/changelog.xml', :d, :o, 'EXECUTED',"
                        " NULL, :desc, NULL)"),
                {"i": cid, "d": f"2026-02-0{order} 10:00:00", "o": order, "desc": desc},
            )  # fmt: skip
    crossing = compare("1", read_schema(url, "liquibase"))
    assert crossing.now.version == "3"
    assert crossing.words("v1.2.3") == (
        "v1.2.3 ran on 1; the database is at 3: 2 add coupon_code (on 2026-02-02 10:00:00 by dba), "
        "3 rename column total to amount (on 2026-02-03 10:00:00 by dba) ⚠ likely incompatible"
    )


def test_alembic_knows_only_its_head(dbs) -> None:
    _, url = dbs.scratch()
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('ae1027a6acf')"))
    crossing = compare("1975ea83b712", read_schema(url, "alembic"))
    assert crossing.differs and crossing.words("v2") == (
        "v2 ran on 1975ea83b712; the database is at ae1027a6acf "
        "(alembic records only its head: the migrations between are not listed)"
    )


def test_a_database_that_cannot_be_read_is_schema_unknown_never_no_migrations(dbs, monkeypatch) -> None:
    missing = read_schema(dbs.urls["primary"], "liquibase")  # a Flyway database has no changelog
    assert missing.version is None and missing.title == "schema unknown"
    assert compare("12", missing).words("v1") == "schema unknown: the database: it has no databasechangelog table"
    assert compare("12", missing).differs
    monkeypatch.setenv("SHOP_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    down = read_service_schema(DatabaseRef("SHOP_DB_URL", "flyway"))
    assert down.version is None and down.unknown == "the database in SHOP_DB_URL could not be read (OperationalError)"
    assert "127.0.0.1" not in down.unknown  # the URL (it may hold a password) is never shown
    monkeypatch.delenv("SHOP_DB_URL")
    unset = read_service_schema(DatabaseRef("SHOP_DB_URL", "flyway"))
    assert unset.unknown == "SHOP_DB_URL is not set in the bot's environment"
