"""When a trigger first held: the first breach in a ``query_range`` series, for the postmortem's detection time
when no alert's ``startsAt`` was recorded (a person declared before any alert fired). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.config.names import duration_seconds
from bot.config.queries import Thresholds

TRIGGERS = ("error_rate", "success_rate", "latency_p95", "memory", "restarts")  # the signals with a trigger


@dataclass(frozen=True)
class Breach:
    signal: str
    at: dt.datetime  # the first sample of the run of breached samples that held for the trigger's duration


def breached(signal: str, value: float, thresholds: Thresholds) -> bool:
    limit = getattr(thresholds, signal)
    return value < limit if signal == "success_rate" else value > limit


def hold_seconds(signal: str, thresholds: Thresholds) -> float:
    """The trigger's ``for:`` (restarts: its window is already in the query, so one sample is enough)."""
    return 0.0 if signal == "restarts" else float(duration_seconds(getattr(thresholds, f"{signal}_for")))


def first_hold(
    samples: Iterable[tuple[dt.datetime, float]], signal: str, thresholds: Thresholds, step: float
) -> dt.datetime | None:
    """The start of the first run of breached samples that lasts the trigger's duration (as an alert's
    ``startsAt`` is the start of the pending period that fired); a gap of more than one step breaks a run."""
    need = hold_seconds(signal, thresholds)
    start = last = None
    for at, value in sorted(samples):
        if not breached(signal, value, thresholds) or (last is not None and (at - last).total_seconds() > step * 1.5):
            start = None
        if breached(signal, value, thresholds):
            start = start or at
            if (at - start).total_seconds() >= need:
                return start
        last = at
    return None


def earliest(
    series: Mapping[str, list[tuple[dt.datetime, float]]], thresholds: Thresholds, step: float
) -> Breach | None:
    """The earliest first hold over every trigger's series (signals missing from ``series`` are skipped)."""
    found = [
        Breach(signal, at)
        for signal in TRIGGERS
        if signal in series and (at := first_hold(series[signal], signal, thresholds, step)) is not None
    ]
    return min(found, key=lambda b: b.at) if found else None
