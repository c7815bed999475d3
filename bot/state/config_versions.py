"""The recorded versions of the ConfigMaps and Secrets the services use: what changed, when, and by whom.

A Secret's values are never stored: only its key names and a short keyed hash (HMAC-SHA256 under
``CONFIG_FINGERPRINT_KEY``) of each value, which is enough to say which keys changed, and not enough to read
one or, without the key, to check a guessed value against the database. Without the key no Secret is tracked.
A ConfigMap's values are stored anyway: its hashes are plain SHA-256.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, desc, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.state.db import Database
from bot.state.models import ConfigVersion, utcnow
from bot.strategies.versions import (
    PLAIN,
    PLAIN_KINDS,
    SECRETS_NOT_TRACKED,
    Fingerprints,
    utc,
    values_of,
    version_diff,
)

KINDS = ("ConfigMap", "Secret")


UNKEYED = "unkeyed"  # fingerprint_key of the Secret rows recorded before keyed fingerprints (migration 0004)


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


def record(db: Database, kind: str, obj: dict[str, Any], prints: Fingerprints = PLAIN) -> ConfigVersion | None:
    """Store the object's version unless its data equals the newest one recorded; the new row, or None
    (also for a Secret when there is no fingerprint key: it is not tracked)."""
    if not prints.tracks(kind):
        return None
    meta = obj["metadata"]
    values = values_of(obj)
    keys = prints.key_hashes(kind, values)
    digest = prints.data_hash(kind, values)
    key_id = prints.key_id(kind)

    def add(session: Session) -> ConfigVersion | None:
        latest = _newest(session, meta["namespace"], kind, meta["name"], key_id)
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
            fingerprint_key=key_id,
            keys=keys,
            changed_keys=changed,
            data=dict(values) if kind in PLAIN_KINDS else None,
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


def _of_object(namespace: str, kind: str, name: str, key_id: str) -> Select:
    """One object's versions made under one fingerprint key (a ConfigMap's: "")."""
    return select(ConfigVersion).where(
        ConfigVersion.namespace == namespace,
        ConfigVersion.kind == kind,
        ConfigVersion.name == name,
        ConfigVersion.fingerprint_key == key_id,
    )


def _newest(session: Session, namespace: str, kind: str, name: str, key_id: str) -> ConfigVersion | None:
    return session.scalar(_of_object(namespace, kind, name, key_id).order_by(desc(ConfigVersion.id)).limit(1))


def versions(db: Database, namespace: str, kind: str, name: str, prints: Fingerprints = PLAIN) -> list[ConfigVersion]:
    """Oldest first; a Secret's only those fingerprinted with the current key (none without one)."""
    if not prints.tracks(kind):
        return []
    query = _of_object(namespace, kind, name, prints.key_id(kind)).order_by(ConfigVersion.id)
    return db.transaction(lambda s: list(s.scalars(query)))


def get(db: Database, version_id: int) -> ConfigVersion | None:
    return db.transaction(lambda s: s.get(ConfigVersion, version_id))


@dataclass(frozen=True)
class RecordedVersions:
    """The ``VersionStore`` of ``bot.strategies.versions`` on this database: what the runtime gives a strategy
    that restores recorded versions (it never reaches the database itself)."""

    db: Database
    prints: Fingerprints = PLAIN

    def record(self, kind: str, obj: dict[str, Any]) -> ConfigVersion | None:
        return record(self.db, kind, obj, self.prints)

    def versions(self, namespace: str, kind: str, name: str) -> list[ConfigVersion]:
        return versions(self.db, namespace, kind, name, self.prints)

    def get(self, version_id: int) -> ConfigVersion | None:
        return get(self.db, version_id)


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
    untracked: str = ""  # why no version is recorded (a Secret without CONFIG_FINGERPRINT_KEY)


def history(db: Database, namespace: str, kind: str, name: str, prints: Fingerprints = PLAIN) -> ConfigHistory:
    """The recorded versions of one object, each with its diff against the one before."""
    if not prints.tracks(kind):
        return ConfigHistory(kind, name, (), untracked=SECRETS_NOT_TRACKED)
    found = versions(db, namespace, kind, name, prints)
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
