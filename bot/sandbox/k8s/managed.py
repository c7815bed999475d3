"""``metadata.managedFields`` as the API server's field manager keeps them for Update operations.

A manager whose write sets or changes a field takes ownership of it, and every other manager loses that
field from its ``fieldsV1``; a field the write removes is owned by nobody after it. A manager whose set
becomes empty loses its entry. A manager's ``time`` moves only when its write took a field (so a write
that only removes keys leaves no newer timestamp), and has one-second resolution. Entries are sorted as
the API server sorts them: operation, time, apiVersion, manager, so the order never says which of two
writes in the same second came last.

Simplified: a list is one atomic field (the server tracks ``k:``/``v:`` members), ``status`` is left out,
and so are the fields the server sets itself.
"""

from __future__ import annotations

from typing import Any

Path = tuple[str, ...]
SERVER_METADATA = {
    "managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "name", "namespace",
    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
}


def field_paths(obj: dict | None) -> dict[Path, Any]:
    """Every field the object sets (a scalar, a list or an empty map) -> its value."""
    found: dict[Path, Any] = {}

    def walk(node: Any, path: Path) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, (*path, key))
        else:
            found[path] = node

    for key, value in (obj or {}).items():
        if key in ("kind", "apiVersion", "status"):
            continue
        if key == "metadata" and isinstance(value, dict):
            for mkey, mvalue in value.items():
                if mkey not in SERVER_METADATA:
                    walk(mvalue, ("metadata", mkey))
        else:
            walk(value, (key,))
    return found


def encode(paths: set[Path]) -> dict:
    """Paths as ``fieldsV1``: ``{"f:data": {"f:KEY": {}}}``."""
    root: dict = {}
    for path in sorted(paths):
        node = root
        for name in path:
            node = node.setdefault(f"f:{name}", {})
    return root


def decode(fields: dict | None) -> set[Path]:
    """``fieldsV1`` back to paths (the leaves; ``.`` and list members count as their parent)."""
    out: set[Path] = set()

    def walk(node: dict, path: Path) -> None:
        children = {k: v for k, v in node.items() if k.startswith("f:")}
        if not children and path:
            out.add(path)
        for key, child in children.items():
            walk(child if isinstance(child, dict) else {}, (*path, key[2:]))

    walk(fields or {}, ())
    return out


def updated(before: dict | None, after: dict, manager: str, api_version: str, when: str) -> list[dict]:
    """The managedFields of ``after``, written by ``manager`` over ``before`` (None: a create)."""
    old, new = field_paths(before), field_paths(after)
    taken = {p for p, v in new.items() if p not in old or old[p] != v}
    lost = taken | (set(old) - set(new))
    entries = []
    for entry in (before or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and taken:
            continue  # replaced below, with its fields and the new time
        kept = decode(entry.get("fieldsV1")) - lost
        if kept:
            entries.append({**entry, "fieldsType": "FieldsV1", "fieldsV1": encode(kept)})
    if taken:
        mine = next((e for e in (before or {}).get("metadata", {}).get("managedFields") or []
                     if e.get("manager") == manager), {})
        owned = (decode(mine.get("fieldsV1")) - lost) | taken
        entries.append({"manager": manager, "operation": "Update", "apiVersion": api_version, "time": when,
                        "fieldsType": "FieldsV1", "fieldsV1": encode(owned)})
    return sorted(entries, key=lambda e: (e.get("operation", ""), e.get("time") or "", e.get("apiVersion", ""),
                                          e.get("manager", "")))
