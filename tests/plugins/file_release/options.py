"""``options:`` of a file-release service: where its releases live."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from bot.config.reader import INVALID, CatalogReader

ABSOLUTE_PATH = (lambda v: isinstance(v, str) and v.startswith("/"), "an absolute path")


@dataclass(frozen=True)
class FileReleaseOptions:
    root: str  # the directory holding releases/ and the current link

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> FileReleaseOptions | None:
        given = r.mapping(node, where, {"root": "the directory holding releases/ and current"}) or {}
        if "root" not in given:
            r.error(node, f"{where}.root", "missing (the directory holding releases/ and current)")
            return None
        root = r.check(given["root"], f"{where}.root", *ABSOLUTE_PATH)
        return None if root is INVALID else cls(root=root)
