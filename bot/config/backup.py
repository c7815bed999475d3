"""A service's ``backup_job``: the backup taken before a rollback across migrations, of one of three kinds.

- ``job`` (the default): a Kubernetes Job, any image and command;
- ``dump``: the same Job, running the runbook's ``pg_dump`` or ``mysqldump`` command (checked to name one);
- ``rds_snapshot``: an RDS snapshot of ``instance`` in ``region`` (``bot.providers.aws.rds``): refused for now,
  no strategy offers it to a run yet, and the catalog never accepts a backup the run would not take.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from bot.config.reader import DURATION_CHECK, INVALID, K8S, CatalogReader
from bot.strategies.options import BackupJob

KINDS = ("job", "dump", "rds_snapshot")
DUMP = re.compile(r"\b(pg_dump|pg_dumpall|mysqldump|mariadb-dump)\b")
_CHECKS = {
    "image": (lambda v: isinstance(v, str) and bool(v.strip()) and not any(c.isspace() for c in v), "an image"),
    "namespace": K8S,
    "deadline": DURATION_CHECK,
    "kind": (lambda v: v in KINDS, " | ".join(KINDS)),
}


def read_backup_job(r: CatalogReader, node: yaml.Node, where: str, kwargs: dict[str, Any]) -> None:
    """``backup_job: {kind, image, command, namespace, deadline}``; only with ``db_migrations: true``."""
    if kwargs.get("db_migrations") is not True:
        r.error(node, where, "needs db_migrations: true (a backup is taken only before a rollback across migrations)")
        return
    given = r.mapping(node, where, {**_CHECKS, "command": ""}) or {}
    values = {k: r.check(n, f"{where}.{k}", *_CHECKS[k]) for k, n in given.items() if k != "command"}
    if values.get("kind") == "rds_snapshot":
        r.error(
            given["kind"], f"{where}.kind", "rds_snapshot is not available yet (no strategy takes one): use job or dump"
        )
        return
    for key in ("image", "command"):
        if key not in given:
            r.error(node, f"{where}.{key}", "missing")
    if "command" in given:
        values["command"] = r.strings(given["command"], f"{where}.command", lambda v: isinstance(v, str), "strings")
        if (
            values.get("kind") == "dump"
            and values["command"] is not INVALID
            and not DUMP.search(" ".join(values["command"]))
        ):
            r.error(given["command"], f"{where}.command", "a dump runs pg_dump or mysqldump (the runbook's command)")
            return
    if INVALID not in values.values() and {"image", "command"} <= set(values):
        kwargs["backup_job"] = BackupJob(**values)
