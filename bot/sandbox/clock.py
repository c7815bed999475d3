"""Simulated time shared by every part of the sandbox world.

Time can run faster than the wall clock (``scale``) and can be jumped forward
(``advance``), so a test of a 10-minute progress deadline runs in seconds.
"""

from __future__ import annotations

import datetime as dt
import threading
import time


class SimClock:
    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("clock scale must be positive")
        self.scale = scale
        self._lock = threading.Lock()
        self._base = time.time() if start is None else start
        self._t0 = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Simulated seconds since the epoch."""
        with self._lock:
            return self._base + (time.monotonic() - self._t0) * self.scale + self._offset

    def now_dt(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), tz=dt.UTC)

    def iso(self) -> str:
        """RFC 3339 timestamp, second precision, as the Kubernetes API writes them."""
        return self.now_dt().strftime("%Y-%m-%dT%H:%M:%SZ")

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward without waiting."""
        with self._lock:
            self._offset += seconds

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.scale

    def sleep(self, sim_seconds: float) -> None:
        time.sleep(max(0.0, sim_seconds / self.scale))
