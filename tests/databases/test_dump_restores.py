"""A ``dump`` backup really restores: the runbook's dump command run against the primary, loaded into a scratch
database, and the counts compared table by table."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import sqlalchemy as sa

from tests.databases.conftest import start_databases

TABLES = ("orders", "flyway_schema_history")


def _client(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


def _dump_and_load(dbs, source: str, scratch: str, dump_file) -> None:
    url = sa.engine.make_url(dbs.urls[source])
    if dbs.kind == "mariadb":  # the shopping runbook's: mysqldump --single-transaction, then mysql < dump
        dump = [
            _client("mysqldump"),
            "--single-transaction",
            "--routines",
            "--triggers",
            "-h",
            url.host,
            "-P",
            str(url.port),
            "-u",
            url.username,
            url.database,
        ]
        load = [_client("mysql"), "-h", url.host, "-P", str(url.port), "-u", url.username, scratch]
    else:
        dump = [_client("pg_dump"), "--no-owner", "-h", url.host, "-p", str(url.port), "-U", url.username, url.database]
        load = [_client("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host, "-p", str(url.port), "-U",
                url.username, scratch]  # fmt: skip
    with open(dump_file, "wb") as out:
        subprocess.run(dump, stdout=out, check=True, timeout=60)
    with open(dump_file, "rb") as given:
        subprocess.run(load, stdin=given, check=True, timeout=60, capture_output=True)


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_a_dump_loads_into_a_scratch_database_with_the_same_counts(kind, tmp_path) -> None:
    dbs = start_databases(kind)
    try:
        dbs.write_orders("primary", 37)
        scratch, _ = dbs.scratch()
        _dump_and_load(dbs, "primary", scratch, tmp_path / "backup.sql")
        assert [dbs.count(scratch, t) for t in TABLES] == [dbs.count("primary", t) for t in TABLES] == [137, 12]
    finally:
        dbs.stop()
