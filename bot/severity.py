"""Signals + thresholds -> a severity with the reasons behind it (pure functions).

CONTRACT STUB: the types below are fixed; ``assess`` is implemented in bot/severity.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class SignalReading:
    name: str  # error_rate | http_5xx_rate | success_rate | latency_p95 | memory | restarts
    label: str  # "5xx rate"
    value: float | None  # None: unavailable (never shown as healthy)
    threshold: float
    unit: str  # "%", "s", "" ...
    breached: bool | None  # None when unavailable


@dataclass(frozen=True)
class Assessment:
    severity: Severity
    reasons: tuple[str, ...]
    signals: tuple[SignalReading, ...]
