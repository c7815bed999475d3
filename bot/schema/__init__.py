"""A service's database schema, read-only: its version per release (flyway, liquibase, alembic) and the
migrations a rollback crosses. ``read.read_schema`` reads a database; ``compare`` is pure."""

from bot.schema.compare import Crossing, compare, risky
from bot.schema.read import Migration, Schema, read_schema, read_service_schema

__all__ = ["Crossing", "Migration", "Schema", "compare", "read_schema", "read_service_schema", "risky"]
