"""Signals + thresholds -> a severity with the reasons behind it (pure functions).

The rules are the design's: Critical (full outage, 5xx above 50%, declared data loss or
security breach), High (main API failing, p95 above 5 s), Medium (error rate above 10%
or any automatic trigger), Low otherwise. Every reason names the value and the limit so
a stressed reader can check it. A signal that cannot be read never counts as healthy.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.config import Thresholds


class Severity(enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def emoji(self) -> str:
        return _EMOJI[self]

    @property
    def guidance(self) -> str:
        """What the design says to do at this severity."""
        return _GUIDANCE[self]

    @property
    def decide_within_minutes(self) -> int | None:
        """0: act now; None: no deadline."""
        return _DEADLINE[self]

    @property
    def rank(self) -> int:
        """Higher is worse (Low 0 .. Critical 3), to compare severities."""
        return _ORDER.index(self)


_ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":large_green_circle:",
}
_GUIDANCE = {
    Severity.CRITICAL: "Roll back immediately",
    Severity.HIGH: "Decide within 10 minutes",
    Severity.MEDIUM: "Try a fix, decide within 30 minutes",
    Severity.LOW: "Forward fix",
}
_DEADLINE = {Severity.CRITICAL: 0, Severity.HIGH: 10, Severity.MEDIUM: 30, Severity.LOW: None}

# What a person may declare (the incident's select), and how reasons name it.
DECLARATIONS = {"data-loss": "data loss", "security-breach": "security breach"}
DECLARATION_FLAGS = " or ".join(f"`--{key}`" for key in DECLARATIONS)  # as help and errors show them


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


# name, label, unit, threshold field, breached when the value is below (True) or above (False)
_SIGNALS = (
    ("error_rate", "Error rate", "%", "error_rate", False),
    ("http_5xx_rate", "5xx rate", "%", "http_5xx_high", False),
    ("success_rate", "Success rate", "%", "success_rate", True),
    ("latency_p95", "p95 latency", "s", "latency_p95", False),
    ("memory", "Memory", "%", "memory", False),
    ("restarts", "Restarts", "", "restarts", False),
)


def format_number(value: float, unit: str, precise: bool = True) -> str:
    """A value as people read it: ratios as "0.6%", seconds as "0.21 s", counts as "7"."""
    if unit == "%":
        pct = value * 100
        if not precise or pct == 0:
            return f"{pct:g}%"
        text = f"{pct:.2g}" if abs(pct) < 0.1 else f"{pct:.1f}".removesuffix(".0")
        return f"{text}%"
    if unit == "s":
        return f"{value:.2f} s" if precise else f"{value:g} s"
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def format_value(reading: SignalReading) -> str:
    """The reading as people read it: "30.1%", "2.41 s", "7", or "unavailable"."""
    return "unavailable" if reading.value is None else format_number(reading.value, reading.unit, precise=True)


def format_threshold(reading: SignalReading) -> str:
    """The limit as configured: "25%", "1 s", "5"."""
    return format_number(reading.threshold, reading.unit, precise=False)


def _clean(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _readings(readings: Mapping[str, float | None], thresholds: Thresholds) -> tuple[SignalReading, ...]:
    out = []
    for name, label, unit, limit_field, below in _SIGNALS:
        value = _clean(readings.get(name))
        limit = float(getattr(thresholds, limit_field))
        breached = None if value is None else (value < limit if below else value > limit)
        out.append(SignalReading(name, label, value, limit, unit, breached))
    return tuple(out)


def assess(
    readings: Mapping[str, float | None], thresholds: Thresholds, declared: Iterable[str] = ()
) -> Assessment:
    """Severity from the readings (None/NaN/missing = unavailable) and what people declared.

    Unknown declarations are ignored; every rule that fires adds a reason, worst first.
    """
    signals = _readings(readings, thresholds)
    by_name = {s.name: s for s in signals}
    found: list[tuple[Severity, str]] = []
    explained: set[str] = set()  # one reason per signal: the worst rule it breaks

    def rule(severity: Severity, name: str, limit: float, below: bool, why: str) -> None:
        s = by_name[name]
        if name in explained or s.value is None or not (s.value < limit if below else s.value > limit):
            return
        explained.add(name)
        limit_text = format_number(limit, s.unit, precise=False)
        word = "below" if below else "above"
        found.append((severity, f"{s.label} {format_value(s)} is {word} {limit_text} ({why})"))

    for item in dict.fromkeys(declared):
        if item in DECLARATIONS:
            found.append((Severity.CRITICAL, f"Declared by a person: {DECLARATIONS[item]}"))
    t = thresholds
    rule(Severity.CRITICAL, "success_rate", 0.01, True, "full outage")
    rule(Severity.CRITICAL, "http_5xx_rate", t.http_5xx_critical, False, "full outage")
    rule(Severity.HIGH, "http_5xx_rate", t.http_5xx_high, False, "main API failing")
    rule(Severity.HIGH, "latency_p95", t.latency_high, False, "very slow")
    rule(Severity.MEDIUM, "error_rate", t.error_rate_medium, False, "partial failure")
    for s in signals:
        if s.name != "http_5xx_rate":  # 5xx has no automatic trigger of its own
            rule(Severity.MEDIUM, s.name, s.threshold, s.name == "success_rate", "automatic trigger")

    unavailable = [s.label for s in signals if s.value is None]
    if len(unavailable) == len(signals):
        found.append(
            (Severity.MEDIUM, "No signal could be read: we cannot see the service, so assume it is hurting")
        )
    elif unavailable:
        found.append(
            (
                Severity.LOW,
                f"{len(unavailable)} of {len(signals)} signals unavailable ({', '.join(unavailable)}): "
                "severity may be understated",
            )
        )
    severity = max((sev for sev, _ in found), key=lambda sev: sev.rank, default=Severity.LOW)
    if not any(sev.rank > Severity.LOW.rank for sev, _ in found):
        found.insert(0, (Severity.LOW, "No signal that could be read is past its threshold"))
    reasons = tuple(reason for _, reason in sorted(found, key=lambda f: -f[0].rank))
    return Assessment(severity=severity, reasons=reasons, signals=signals)


def triggered(readings: Mapping[str, float | None], thresholds: Thresholds) -> tuple[str, ...]:
    """The automatic triggers the readings break now, in words ("Error rate 30% is above 5%"); an unavailable
    signal breaks none (the watch after a deploy counts only what it can see)."""
    return tuple(
        f"{s.label} {format_value(s)} is {'below' if s.name == 'success_rate' else 'above'} {format_threshold(s)}"
        for s in _readings(readings, thresholds)
        if s.breached and s.name != "http_5xx_rate"  # 5xx has no automatic trigger of its own
    )
