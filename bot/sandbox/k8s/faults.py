"""Faults on demand: the simulated API server refuses, fails, stalls or hangs, as a real one does.

Tests and the chaos benchmark add rules; a request to a resource URL takes the first rule that
matches it by RBAC verb (get, list, watch, create, update, patch, delete), resource as RBAC names
it (``deployments``, ``deployments/scale``), namespace and name. Errors are the API server's own
``Status`` bodies, so kubectl and the python client see them as they would see a real cluster's.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..httpserver import Response
from . import errors
from .resources import Resource

SERVICE_ACCOUNT = "system:serviceaccount:rollback-bot:rollback-bot"  # who a 403 names


@dataclass(frozen=True)
class Call:
    """One request as the authorizer sees it."""

    verb: str
    res: Resource
    namespace: str | None
    name: str | None
    sub: str | None = None

    @property
    def resource(self) -> str:
        return f"{self.res.plural}/{self.sub}" if self.sub else self.res.plural


@dataclass(eq=False)
class Rule:
    """What to do to matching requests; ``None`` filters match anything. ``hits`` counts the requests it hit."""

    verb: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    status: int | None = None  # answer with this error
    delay: float = 0.0  # real seconds before answering
    after: bool = False  # carry the request out first, then lose its answer (delay and/or error)
    hang: bool = False  # a watch that sends its headers, then nothing, whatever its timeoutSeconds
    times: int | None = None  # requests it hits before it is spent; None: until removed
    until: float | None = None  # time.monotonic() from which it no longer hits; None: until removed
    probability: float = 1.0
    message: str = ""  # for a 500: the internal error's text
    hits: int = 0
    lifted: threading.Event = field(default_factory=threading.Event, repr=False)

    def matches(self, call: Call) -> bool:
        return (
            (self.times is None or self.hits < self.times)
            and (self.until is None or time.monotonic() < self.until)
            and self.verb in (None, call.verb)
            and self.resource in (None, call.resource)
            and self.namespace in (None, call.namespace)
            and self.name in (None, call.name)
        )


class Faults:
    def __init__(self, stopped: threading.Event, seed: int | None = None) -> None:
        self.stopped = stopped  # the cluster's: a stopping cluster ends every delay and hang
        self.rand = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def add(
        self, status: int, *, times: int | None = None, after: bool = False, seconds: float | None = None, **match
    ) -> Rule:
        """Answer matching requests with ``status`` (401, 403, 404, 409, 422, 429, 500, 503, 504, ...).

        ``after=True``: the request is carried out, then its answer is replaced by the error (a lost answer).
        ``seconds``: only for the next that many real seconds (an outage that ends by itself).
        Other keywords: ``verb``, ``resource``, ``namespace``, ``name``, ``delay``, ``probability``, ``message``.
        """
        until = None if seconds is None else time.monotonic() + seconds
        return self._append(Rule(status=status, times=times, after=after, until=until, **match))

    def delay(self, seconds: float, *, times: int | None = None, after: bool = False, **match) -> Rule:
        """Answer matching requests ``seconds`` late (``after=True``: carry them out first, then stall)."""
        return self._append(Rule(delay=seconds, times=times, after=after, **match))

    def hang_watches(self, *, times: int | None = None, **match) -> Rule:
        """Watches that send their headers and then nothing, until the rule is removed or the cluster stops."""
        return self._append(Rule(verb="watch", hang=True, times=times, **match))

    def remove(self, rule: Rule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)
        rule.lifted.set()

    def clear(self) -> None:
        """Remove every rule; requests stalled or hung by one are released."""
        with self._lock:
            rules, self._rules = self._rules, []
        for rule in rules:
            rule.lifted.set()

    def serve(self, call: Call, handle: Callable[[], Response]) -> Response:
        """``handle()`` the request, with whatever the first matching rule does before or after it."""
        rule = self._take(call, after=False)
        if rule and rule.hang:
            return Response(200, self._hang(rule), {"Content-Type": "application/json"})
        if rule:
            self._pause(rule, rule.delay)
            if rule.status:
                raise _error(rule, call)
        response = handle()  # a real error (ApiError) passes through untouched
        if response.status < 300 and (rule := self._take(call, after=True)):
            self._pause(rule, rule.delay)
            if rule.status:
                raise _error(rule, call)
        return response

    def _append(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def _take(self, call: Call, after: bool) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.after == after and rule.matches(call) and self.rand.random() < rule.probability:
                    rule.hits += 1
                    return rule
        return None

    def _pause(self, rule: Rule, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self.stopped.is_set():
            if rule.lifted.wait(min(0.1, left)):
                return

    def _hang(self, rule: Rule) -> Iterator[bytes]:
        while not self.stopped.is_set() and not rule.lifted.wait(0.1):
            yield b""  # nothing is written: the client sees an open, silent stream


def _error(rule: Rule, call: Call) -> errors.ApiError:
    """The Status the real API server answers with for this code."""
    code, res, name = rule.status, call.res, call.name or ""
    known: dict[int, Callable[[], errors.ApiError]] = {
        401: errors.unauthorized,
        403: lambda: errors.forbidden(res, call.name, call.verb, call.namespace, call.sub, SERVICE_ACCOUNT),
        404: lambda: errors.not_found(res, name) if name else errors.no_such_resource(),
        409: lambda: errors.conflict(res, name),
        422: lambda: errors.invalid(res, name, "spec", rule.message or "rejected by the sandbox's fault injection"),
        429: errors.too_many_requests,
        500: lambda: errors.internal(rule.message or "etcdserver: request timed out"),
        503: errors.unavailable,
        504: errors.timeout,
    }
    if code in known:
        return known[code]()
    return errors.ApiError(code, "Unknown", rule.message or f"the server responded with the status code {code}")
