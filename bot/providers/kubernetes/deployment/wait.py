"""Following a workload's rollout: a watch, given up for polling when it fails or hangs, until the deadline."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from bot.providers.kubernetes.api import Api, Call, CallFailed, Obj, explain
from bot.providers.kubernetes.locator import k8s
from bot.providers.kubernetes.outcomes import WAIT_CONSEQUENCE, deleted, located
from bot.strategies.base import Progress, RollbackError, Target

log = logging.getLogger(__name__)
WATCH_SLICE_SECONDS = 5  # longest real wait on one watch before the deadline is checked again
POLL_SECONDS = 1.0  # clock seconds between reads when the watch is given up


class RolloutWait:
    """``Strategy.wait`` of the workload strategies; they give ``kind``, ``resource``, the reads and the
    ``_rollout_state`` rules (``kubectl rollout status``) of their workload."""

    api: Api
    clock: Any
    kind: str
    resource: str
    _now: Callable[[], float]
    _real: Callable[[float], float]
    _workload: Callable[..., Obj]
    _rollout_state: Callable[[Obj, Target], tuple[Progress, bool, str | None]]

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Watch the Deployment until ``rollout status`` says done, failed, or ``timeout_seconds`` pass.

        A watch that fails, hangs (no byte within its request timeout) or delivers no event at
        all (a real API server always sends the current object first) is given up for the rest
        of the wait: the Deployment is then read every ``POLL_SECONDS``. Reads that keep failing
        transiently are tried again until the deadline.
        """
        deadline = self._now() + timeout_seconds
        where, last = located(target), None
        w = k8s(target)
        follow = f"Follow it with `kubectl rollout status {self.kind}/{w.workload} -n {w.namespace}`."
        failing: CallFailed | None = None  # the last read, when it failed

        def observe(obj: Obj) -> bool:
            nonlocal last
            state, done, failure = self._rollout_state(obj, target)
            if state != last:
                progress(state)
                last = state
            if failure:
                raise RollbackError(failure)
            return done

        watching = True
        while True:
            remaining = deadline - self._now()
            if remaining <= 0:
                if failing:
                    raise explain(failing, WAIT_CONSEQUENCE + "; the bot stopped following it at the deadline", follow)
                raise RollbackError(
                    f"{where} did not finish rolling out before the deadline "
                    f"({last.message if last else 'no status seen'}); the old pods keep serving what they can"
                )
            real = self._real(remaining)
            if watching:
                try:
                    seen = self._watch(target, observe, deadline, real)
                except CallFailed as failed:
                    log.warning("watching %s failed (%s); reading it every %ss instead", where, failed, POLL_SECONDS)
                    failing, seen = failed, False
                if seen is None:
                    return
                watching = seen
                continue
            try:
                obj = self._workload(target, until=time.monotonic() + real)
            except CallFailed as failed:
                if failed.status == 404:
                    raise deleted(target) from failed
                if not failed.transient:
                    raise explain(failed, WAIT_CONSEQUENCE, follow) from failed
                failing = failed
            else:
                failing = None
                if observe(obj):
                    return
            self.clock.sleep(min(POLL_SECONDS, max(deadline - self._now(), 0)))

    def _watch(self, target: Target, observe: Callable[[Obj], bool], deadline: float, real: float) -> bool | None:
        """One watch of at most ``WATCH_SLICE_SECONDS``: ``None`` when the rollout is done, else whether
        it delivered events (a watch worth opening again)."""
        seconds = max(1, min(WATCH_SLICE_SECONDS, math.ceil(real)))
        events = self.api.watch(
            Call("watch", self.resource, k8s(target).namespace),
            seconds,
            min(seconds + self.api.timeout, real),  # silent that long past its own end: hung
            field_selector=f"metadata.name={k8s(target).workload}",
        )
        seen = False
        try:
            for event in events:
                seen = True
                if event["type"] == "DELETED":
                    raise deleted(target)
                if event["type"] in ("ADDED", "MODIFIED") and observe(event["object"]):
                    return None
                if self._now() >= deadline:
                    break
        except CallFailed as failed:
            if not (seen and failed.timed_out):  # a quiet watch that ran into the deadline is no failure
                raise
        finally:
            events.close()
        return seen
