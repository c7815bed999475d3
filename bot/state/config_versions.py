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


def _changed_by(obj: dict[str, Any]) -> tuple[str, dt.datetime | None]:
    """The newest managedFields entry: which manager (kubectl-edit, helm, argocd-controller, ...) wrote it, when."""
    entries = [m for m in (obj.get("metadata") or {}).get("managedFields") or [] if m.get("time")]
    if not entries:
        return "", None
    newest = max(entries, key=lambda m: m["time"])
    return newest.get("manager", ""), dt.datetime.fromisoformat(newest["time"].replace("Z", "+00:00"))


def record(db: Database, kind: str, obj: dict[str, Any]) -> ConfigVersion | None:
    """Store the object's version unless its data equals the newest one recorded; the new row, or None."""
    meta = obj["metadata"]
    values = values_of(obj)
    keys = key_hashes(values)
    digest = data_hash(values)
    manager, at = _changed_by(obj)

    def add(session: Session) -> ConfigVersion | None:
        latest = _newest(session, meta["namespace"], kind, meta["name"])
        if latest is not None and latest.data_hash == digest:
            return None
        before = latest.keys if latest else {}
        changed = sorted(k for k in {*before, *keys} if before.get(k) != keys.get(k))
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
