"""The simulated API server's request log: every resource request as the authorizer sees it (verb, API group,
resource, namespace, name) and who sent it (the User-Agent), so a test can hold what a run called against the
RBAC rules it was given (tests/deploy/test_rbac_calls.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .faults import Call

MAX_ENTRIES = 100_000  # the oldest are dropped past this: a long sandbox session must not grow without end


@dataclass(frozen=True)
class Logged:
    verb: str
    group: str
    resource: str  # as RBAC names it: ``deployments/scale``
    namespace: str | None
    name: str | None
    user_agent: str

    @property
    def grant(self) -> tuple[str, str, str]:
        """(apiGroup, resource, verb): what a Role must allow for this request."""
        return (self.group, self.resource, self.verb)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Logged] = []

    def record(self, call: Call, user_agent: str) -> None:
        entry = Logged(call.verb, call.res.group, call.resource, call.namespace, call.name, user_agent)
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > MAX_ENTRIES:
                del self._entries[: len(self._entries) - MAX_ENTRIES]

    def entries(self) -> list[Logged]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
