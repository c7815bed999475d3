"""The recorded versions of the ConfigMaps and Secrets the services use: what changed, when, and by whom.

A Secret's values are never stored: only its key names and a short hash of each value, which is
enough to say which keys changed, and not enough to read one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.state.db import Database
from bot.state.models import ConfigVersion, utcnow

KINDS = ("ConfigMap", "Secret")
MAX_SHOWN = 80  # characters of a value shown in a diff line


def utc(when: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite gives it back without a zone)."""
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def key_hashes(values: dict[str, str]) -> dict[str, str]:
    """Every key -> a short hash of its value: enough to say which keys changed, not to read one."""
    return {k: _digest(v)[:12] for k, v in sorted(values.items())}


def data_hash(values: dict[str, str]) -> str:
    """One hash of all the keys and values: two objects with equal data have equal hashes."""
    return _digest(json.dumps(key_hashes(values), sort_keys=True))


def values_of(obj: dict[str, Any]) -> dict[str, str]:
    """Every key's value as text (a ConfigMap's ``binaryData`` and a Secret's ``data`` stay base64)."""
    return {**(obj.get("data") or {}), **(obj.get("binaryData") or {}), **(obj.get("stringData") or {})}


VALUE_FIELDS = ("data", "binaryData", "stringData")  # where a ConfigMap's or a Secret's keys live


def _owned_keys(entry: dict[str, Any]) -> set[str]:
    """The keys whose values the managedFields entry owns (its ``fieldsV1`` under data, binaryData, stringData)."""
    fields = entry.get("fieldsV1") or {}
    return {k[2:] for f in VALUE_FIELDS for k in (fields.get(f"f:{f}") or {}) if k.startswith("f:")}


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def changed_by(managed_fields: list[dict[str, Any]], changed_keys: list[str]) -> tuple[str, dt.datetime | None]:
    """Who made a version that changed ``changed_keys``, and when, from the object's managedFields (pure).

    The API server gives a field to the manager that last set it and takes it from every other one, so the
    managers that own a changed key are the ones that changed it; of those, the newest. ``time`` has
    one-second resolution and the entries' order is by name within a second, so neither the time alone nor
    the order can tell two writes in one second apart: an entry that owns none of the changed keys (such as
    the edit a restore undid) never wins, and owners tied within the second are all named. When nobody owns
    a changed key (a write that only removed keys takes no field), the answer is "" (unknown), not a guess.
    Entries without ``fieldsV1`` (not the API server's) fall back to the newest entry, if it is the only one
    of its second.
    """
    entries = [m for m in managed_fields or [] if m.get("time") and m.get("manager")]
    if not entries:
        return "", None
    if not any(m.get("fieldsV1") for m in entries):
        newest = max(m["time"] for m in entries)
        at_newest = [m for m in entries if m["time"] == newest]
        return (at_newest[0]["manager"], _parse_time(newest)) if len(at_newest) == 1 else ("", None)
    changed = set(changed_keys)
    owners = [m for m in entries if _owned_keys(m) & changed]
    if not owners:
        return "", None
    newest = max(_parse_time(m["time"]) for m in owners)
    names = sorted({m["manager"] for m in owners if _parse_time(m["time"]) == newest})
    return ", ".join(names)[:128], newest


def record(db: Database, kind: str, obj: dict[str, Any]) -> ConfigVersion | None:
    """Store the object's version unless its data equals the newest one recorded; the new row, or None."""
    meta = obj["metadata"]
    values = values_of(obj)
    keys = key_hashes(values)
    digest = data_hash(values)
    def add(session: Session) -> ConfigVersion | None:
        latest = _newest(session, meta["namespace"], kind, meta["name"])
        if latest is not None and latest.data_hash == digest:
            return None
        before = latest.keys if latest else {}
        changed = sorted(k for k in {*before, *keys} if before.get(k) != keys.get(k))
        manager, at = changed_by(meta.get("managedFields") or [], changed)
        row = ConfigVersion(
            namespace=meta["namespace"],
            kind=kind,
            name=meta["name"],
            resource_version=meta.get("resourceVersion", ""),
            data_hash=digest,
            keys=keys,
            changed_keys=changed,
            data=dict(values) if kind == "ConfigMap" else None,
            changed_by=manager,
            changed_at=at or utcnow(),
            seen_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row

    try:
        return db.transaction(add)
    except IntegrityError:  # another replica recorded the same version first
        return None


def _newest(session: Session, namespace: str, kind: str, name: str) -> ConfigVersion | None:
    return session.scalar(
        select(ConfigVersion)
        .where(ConfigVersion.namespace == namespace, ConfigVersion.kind == kind, ConfigVersion.name == name)
        .order_by(desc(ConfigVersion.id))
        .limit(1)
    )


def versions(db: Database, namespace: str, kind: str, name: str) -> list[ConfigVersion]:
    """Oldest first."""
    return db.transaction(
        lambda s: list(
            s.scalars(
                select(ConfigVersion)
                .where(ConfigVersion.namespace == namespace, ConfigVersion.kind == kind, ConfigVersion.name == name)
                .order_by(ConfigVersion.id)
            )
        )
    )


def get(db: Database, version_id: int) -> ConfigVersion | None:
    return db.transaction(lambda s: s.get(ConfigVersion, version_id))


def _shown(value: str | None) -> str:
    if value is None:
        return "(absent)"
    text = json.dumps(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 4] + '…"'


def diff_lines(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """``KEY: "old" → "new"`` per changed key, in key order (a ConfigMap's values; never a Secret's)."""
    return [
        f"{k}: {_shown(before.get(k))} → {_shown(after.get(k))}"
        for k in sorted({*before, *after})
        if before.get(k) != after.get(k)
    ]


def version_diff(before: ConfigVersion | None, version: ConfigVersion) -> list[str]:
    """What changed in ``version``: values for a ConfigMap, key names only for a Secret."""
    if version.kind == "ConfigMap" and version.data is not None:
        return diff_lines(dict(before.data or {}) if before else {}, dict(version.data))
    old = before.keys if before else {}
    added = sorted(set(version.keys) - set(old))
    removed = sorted(set(old) - set(version.keys))
    changed = sorted(k for k in set(old) & set(version.keys) if old[k] != version.keys[k])
    parts = [f"{what}: {', '.join(keys)}" for what, keys in (("added", added), ("changed", changed),
             ("removed", removed)) if keys]
    return parts or ["no key changed"]


@dataclass(frozen=True)
class VersionEntry:
    """One version as a person reads it: number, when, by whom, and what changed."""

    number: int
    changed_at: dt.datetime
    changed_by: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class ConfigHistory:
    kind: str  # ConfigMap | Secret
    name: str
    entries: tuple[VersionEntry, ...]  # oldest first; the last is live


def history(db: Database, namespace: str, kind: str, name: str) -> ConfigHistory:
    """The recorded versions of one object, each with its diff against the one before."""
    found = versions(db, namespace, kind, name)
    entries = tuple(
        VersionEntry(
            n,
            utc(v.changed_at),
            v.changed_by,
            tuple(version_diff(found[n - 2] if n > 1 else None, v)),
        )
        for n, v in enumerate(found, 1)
    )
    return ConfigHistory(kind, name, entries)
