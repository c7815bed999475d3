"""The recorded versions of the ConfigMaps and Secrets the services use: what changed, when, and by whom.

A Secret's values are never stored: only its key names and a short hash of each value, which is
enough to say which keys changed, and not enough to read one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.state.db import Database
from bot.state.models import ConfigVersion, utcnow

KINDS = ("ConfigMap", "Secret")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _values(obj: dict[str, Any]) -> dict[str, str]:
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
    values = _values(obj)
    keys = {k: _digest(v)[:12] for k, v in sorted(values.items())}
    data_hash = _digest(json.dumps(keys, sort_keys=True))
    manager, at = _changed_by(obj)

    def add(session: Session) -> ConfigVersion | None:
        latest = _newest(session, meta["namespace"], kind, meta["name"])
        if latest is not None and latest.data_hash == data_hash:
            return None
        before = latest.keys if latest else {}
        changed = sorted(k for k in {*before, *keys} if before.get(k) != keys.get(k))
        row = ConfigVersion(
            namespace=meta["namespace"],
            kind=kind,
            name=meta["name"],
            resource_version=meta.get("resourceVersion", ""),
            data_hash=data_hash,
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
