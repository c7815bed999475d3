"""Recorded versions of config objects (a ConfigMap, a Secret), as a strategy sees them: pure.

How a version is fingerprinted (``Fingerprints``: a Secret's values only as a keyed hash, never stored), how
two versions differ, and the ``VersionStore`` a strategy reads them through. The store itself is the
database's (``bot.state.config_versions.RecordedVersions``), handed to the builder in ``BuildContext.versions``:
a strategy never imports the state package.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# An env var whose name says it holds a credential: a plan never shows its literal value (any provider's).
CREDENTIAL = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)

MAX_SHOWN = 80  # characters of a value shown in a diff line
# Kinds whose values are stored and hashed in plain SHA-256: a ConfigMap, a Swarm service's spec (its image, env
# and update config; the swarm strategy stores a credential-named env value only as a hash)
PLAIN_KINDS = ("ConfigMap", "SwarmSpec")


def utc(when: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite gives it back without a zone)."""
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


SECRETS_NOT_TRACKED = (
    "Secret versions are not tracked because CONFIG_FINGERPRINT_KEY is unset: the bot fingerprints Secret "
    "values only with a keyed hash, so that its database cannot be used to check a guessed value. To track "
    "them, set CONFIG_FINGERPRINT_KEY to a random value of at least 32 characters (`openssl rand -hex 32`), "
    "the same on every replica, and restart the bot: versions are recorded from then on."
)
def _digest(value: str, key: bytes | None) -> str:
    if key is None:
        return hashlib.sha256(value.encode()).hexdigest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def key_hashes(values: dict[str, str], key: bytes | None = None) -> dict[str, str]:
    """Every key -> a short hash of its value (keyed when ``key`` is given): which keys changed, not a value."""
    return {k: _digest(v, key)[:12] for k, v in sorted(values.items())}


def data_hash(values: dict[str, str], key: bytes | None = None) -> str:
    """One hash of all the keys and values: two objects with equal data have equal hashes (under one key)."""
    return _digest(json.dumps(key_hashes(values, key), sort_keys=True), key)


@dataclass(frozen=True)
class Fingerprints:
    """How the versions of each kind are fingerprinted: a ConfigMap's with SHA-256, a Secret's with
    HMAC-SHA256 under ``key`` (CONFIG_FINGERPRINT_KEY). No key: Secrets are not tracked at all."""

    key: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, setting: str | None) -> Fingerprints:
        return cls(setting.encode() if setting else None)

    def tracks(self, kind: str) -> bool:
        return kind in PLAIN_KINDS or self.key is not None

    def key_id(self, kind: str) -> str:
        """Names the key without revealing it ("" for a ConfigMap): a Secret's versions made under another
        key (or none) are never compared with these."""
        if kind in PLAIN_KINDS or self.key is None:
            return ""
        return hmac.new(self.key, b"rollback-bot fingerprint key id", hashlib.sha256).hexdigest()[:16]

    def _key(self, kind: str) -> bytes | None:
        if not self.tracks(kind):
            raise ValueError(SECRETS_NOT_TRACKED)
        return None if kind in PLAIN_KINDS else self.key

    def key_hashes(self, kind: str, values: dict[str, str]) -> dict[str, str]:
        return key_hashes(values, self._key(kind))

    def data_hash(self, kind: str, values: dict[str, str]) -> str:
        return data_hash(values, self._key(kind))


PLAIN = Fingerprints()  # no key: ConfigMaps only


def values_of(obj: dict[str, Any]) -> dict[str, str]:
    """Every key's value as text (a ConfigMap's ``binaryData`` and a Secret's ``data`` stay base64)."""
    return {**(obj.get("data") or {}), **(obj.get("binaryData") or {}), **(obj.get("stringData") or {})}


class RecordedVersion(Protocol):
    """One recorded version (``bot.state.models.ConfigVersion``): what a strategy reads of it."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...  # ConfigMap | Secret
    @property
    def name(self) -> str: ...
    @property
    def data_hash(self) -> str: ...
    @property
    def keys(self) -> dict[str, str]: ...  # key -> short hash of its value
    @property
    def changed_keys(self) -> list[str]: ...
    @property
    def data(self) -> dict[str, str] | None: ...  # a ConfigMap's values; a Secret's: None
    @property
    def changed_by(self) -> str: ...
    @property
    def changed_at(self) -> dt.datetime: ...
    @property
    def seen_at(self) -> dt.datetime: ...


class VersionStore(Protocol):
    """Where the versions are recorded, fingerprinted with ``prints``."""

    @property
    def prints(self) -> Fingerprints: ...

    def record(self, kind: str, obj: dict[str, Any]) -> RecordedVersion | None:
        """Store the object's version unless it equals the newest recorded; the new one, or None."""
        ...

    def versions(self, namespace: str, kind: str, name: str) -> Sequence[RecordedVersion]:
        """One object's versions, oldest first (a Secret's: none without a fingerprint key)."""
        ...

    def get(self, version_id: int) -> RecordedVersion | None: ...


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


def version_diff(before: RecordedVersion | None, version: RecordedVersion) -> list[str]:
    """What changed in ``version``: values for a ConfigMap, key names only for a Secret."""
    if version.kind in PLAIN_KINDS and version.data is not None:
        return diff_lines(dict(before.data or {}) if before else {}, dict(version.data))
    old = before.keys if before else {}
    added = sorted(set(version.keys) - set(old))
    removed = sorted(set(old) - set(version.keys))
    changed = sorted(k for k in set(old) & set(version.keys) if old[k] != version.keys[k])
    parts = [f"{what}: {', '.join(keys)}" for what, keys in (("added", added), ("changed", changed),
             ("removed", removed)) if keys]
    return parts or ["no key changed"]
