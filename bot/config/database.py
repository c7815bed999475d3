"""A service's ``database:`` in the catalog: where the bot reads the schema version, never the URL itself.

```yaml
    database:
      url_env: SHOPPING_DB_URL     # an environment variable holding a read-only SQLAlchemy URL
      migrations: flyway           # flyway | liquibase | alembic
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.config.reader import INVALID, CatalogReader

TOOLS = ("flyway", "liquibase", "alembic")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_CHECKS = {
    "url_env": (lambda v: isinstance(v, str) and bool(ENV_NAME.fullmatch(v)), "an environment variable name"),
    "migrations": (lambda v: v in TOOLS, " | ".join(TOOLS)),
}


@dataclass(frozen=True)
class DatabaseRef:
    url_env: str  # the variable the URL is read from, when the bot reads the schema (never stored, never shown)
    migrations: str  # the migration tool whose table says the schema's version


def read_database(r: CatalogReader, node: yaml.Node, where: str, kwargs: dict[str, Any]) -> None:
    """``database: {url_env, migrations}``, both required: a URL in the catalog is refused (a credential)."""
    given = r.mapping(node, where, {k: "" for k in _CHECKS}) or {}
    for key in _CHECKS:
        if key not in given:
            r.error(node, f"{where}.{key}", f"missing ({_CHECKS[key][1]})")
    values = {k: r.check(n, f"{where}.{k}", *_CHECKS[k]) for k, n in given.items()}
    if INVALID not in values.values() and set(values) == set(_CHECKS):
        kwargs["database"] = DatabaseRef(**values)
