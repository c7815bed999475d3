"""The object store: objects by resource, a global resourceVersion counter and an event log for watches."""

from __future__ import annotations

import copy
import threading
import uuid
from collections import deque

from . import errors
from .resources import Resource
from .selectors import Matcher

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


def _key(res: Resource, namespace: str | None, name: str) -> Key:
    return ((namespace or "") if res.namespaced else "", name)


class Store:
    """Every write bumps one counter, as etcd's revision does, and is logged for watchers."""

    def __init__(self, log_size: int = 50_000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 0
        self.objects: dict[str, dict[Key, dict]] = {}
        self.log: deque[tuple[int, str, str, dict]] = deque(maxlen=log_size)  # (rv, plural, type, object)

    def _bump(self, res: Resource, kind: str, obj: dict) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, res.plural, kind, copy.deepcopy(obj)))
        self.changed.notify_all()

    def get(self, res: Resource, namespace: str | None, name: str) -> dict | None:
        """The stored object itself (not a copy): callers hold ``lock`` and copy before handing it out."""
        return self.objects.get(res.plural, {}).get(_key(res, namespace, name))

    def require(self, res: Resource, namespace: str | None, name: str) -> dict:
        obj = self.get(res, namespace, name)
        if obj is None:
            raise errors.not_found(res, name)
        return obj

    def list(self, res: Resource, namespace: str | None = None, match: Matcher | None = None) -> list[dict]:
        items = [
            o
            for (ns, _), o in sorted(self.objects.get(res.plural, {}).items())
            if not namespace or not res.namespaced or ns == namespace
        ]
        return [o for o in items if match is None or match(o)]

    def create(self, res: Resource, obj: dict, created: str) -> dict:
        meta = obj.setdefault("metadata", {})
        key = _key(res, meta.get("namespace"), meta["name"])
        if not res.namespaced:
            meta.pop("namespace", None)
        bucket = self.objects.setdefault(res.plural, {})
        if key in bucket:
            raise errors.already_exists(res, meta["name"])
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        meta["uid"] = str(uuid.uuid4())
        meta.setdefault("creationTimestamp", created)
        bucket[key] = obj
        self._bump(res, "ADDED", obj)
        return obj

    def update(self, res: Resource, obj: dict) -> dict:
        """Store ``obj`` in place of the object of the same key (which must exist)."""
        meta = obj["metadata"]
        self.objects[res.plural][_key(res, meta.get("namespace"), meta["name"])] = obj
        self._bump(res, "MODIFIED", obj)
        return obj

    def delete(self, res: Resource, namespace: str | None, name: str) -> dict:
        obj = self.objects.get(res.plural, {}).pop(_key(res, namespace, name), None)
        if obj is None:
            raise errors.not_found(res, name)
        self._bump(res, "DELETED", obj)
        return obj

    def events_since(self, rv: int) -> list[tuple[int, str, str, dict]] | None:
        """Logged events after ``rv``; ``None`` when the log no longer reaches back that far."""
        if self.log and self.log[0][0] > rv + 1 and rv < self.rv:
            return None
        newer = []
        for event in reversed(self.log):  # the tail is what watchers need: walk back only that far
            if event[0] <= rv:
                break
            newer.append(event)
        return newer[::-1]
