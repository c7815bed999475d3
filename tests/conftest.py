"""Fixtures every test folder may use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

PG_URL = os.environ.get("STATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_conninfo() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[Callable[[], str]]:
    """Factory: a URL whose connections live in a new, empty schema (all dropped at session end)."""
    try:
        admin = psycopg.connect(_pg_conninfo(), autocommit=True, connect_timeout=30)
    except psycopg.OperationalError as exc:
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable and REQUIRE_REAL_SERVICES=1: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {exc}")
    schemas: list[str] = []

    def make() -> str:
        name = f"state_test_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE SCHEMA "{name}"')
        schemas.append(name)
        return f"{PG_URL}?options=-csearch_path%3D{name}"

    yield make
    for name in schemas:
        admin.execute(f'DROP SCHEMA "{name}" CASCADE')
    admin.close()
