"""The sandbox's real databases: MariaDB (Debian's mariadb-server) and, as the fallback, PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from bot.sandbox.databases import DatabaseError, SandboxDatabases


def needs_mariadb() -> None:
    if not shutil.which("mariadbd") and not shutil.which("mysqld"):
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail("mariadb-server is not installed and REQUIRE_REAL_SERVICES=1")
        pytest.skip("mariadb-server is not installed")


def start_databases(kind: str) -> SandboxDatabases:
    if kind == "mariadb":
        needs_mariadb()
    try:
        return SandboxDatabases(prefer=kind).start()
    except DatabaseError as exc:
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail(f"{kind} could not start and REQUIRE_REAL_SERVICES=1: {exc}")
        pytest.skip(f"{kind} could not start: {exc}")


@pytest.fixture(params=["mariadb", "postgresql"])
def dbs(request) -> Iterator[SandboxDatabases]:
    """The world's primary and fallback, on each engine the sandbox can run."""
    world_dbs = start_databases(request.param)
    yield world_dbs
    world_dbs.stop()


@pytest.fixture
def mariadb() -> Iterator[SandboxDatabases]:
    world_dbs = start_databases("mariadb")
    yield world_dbs
    world_dbs.stop()
