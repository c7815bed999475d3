"""The catalog's ``auto_rollback`` key: what happens after an automatic declaration (read by ``catalog.py``)."""

from __future__ import annotations

import yaml

from bot.config.permissions import ANYONE
from bot.config.reader import INVALID, CatalogReader

AUTO_ROLLBACK_MODES = ("off", "propose", "execute")
AUTO_ROLLBACK_ACTOR = "system:auto-rollback"


def read_auto_rollback(r: CatalogReader, spec: dict[str, yaml.Node], where: str, kwargs: dict) -> None:
    """``auto_rollback: off|propose|execute`` (YAML reads a bare off as false: that is off too); execute runs the
    rollback as ``system:auto-rollback``, so ``rollback_allowed`` must name it."""
    node = spec.get("auto_rollback")
    if node is None or r.value(node) is None:
        return
    value = "off" if r.value(node) is False else r.value(node)
    mode = r.check(node, f"{where}.auto_rollback", lambda v: value in AUTO_ROLLBACK_MODES, "off, propose or execute")
    if mode is INVALID:
        return
    kwargs["auto_rollback"] = value
    allowed = kwargs.get("rollback_allowed", (ANYONE,))
    if value == "execute" and allowed is not INVALID and AUTO_ROLLBACK_ACTOR not in allowed:
        r.error(
            node,
            f"{where}.auto_rollback",
            f"execute rolls back as {AUTO_ROLLBACK_ACTOR}; add it to rollback_allowed (\"*\" means people only), "
            "or use propose",
        )
