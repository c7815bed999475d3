"""The catalog's ``decision_deadlines`` and ``update_every`` (read by ``catalog.py``): how long an incident may go
undecided at each severity before the lead and owners are pinged (twice that: the escalation contact is pulled in),
and how often a stakeholder update is due."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import yaml

from bot.config.names import duration_seconds
from bot.config.reader import INVALID, CatalogReader, is_duration

_KEYS = {
    "critical": "default 0 (decide now)",
    "high": "default 10m",
    "medium": "default 30m",
    "low": "default none (forward fix)",
    "escalate_critical_after": "when a Critical incident with no decision pulls in the escalation contact (5m)",
}


@dataclass(frozen=True)
class Deadlines:
    """Seconds from the declaration to the decision, per severity (None: no deadline)."""

    critical: int | None = 0
    high: int | None = 600
    medium: int | None = 1800
    low: int | None = None
    escalate_critical_after: int = 300  # twice "now" is now: a Critical one escalates after this instead

    def decide_within(self, severity: str | None) -> int | None:
        return getattr(self, severity) if severity in ("critical", "high", "medium", "low") else None

    def escalate_after(self, severity: str | None) -> int | None:
        """Twice the deadline (a deadline of 0: ``escalate_critical_after``)."""
        within = self.decide_within(severity)
        if within is None:
            return None
        return 2 * within if within else self.escalate_critical_after

    def due_at(self, severity: str | None, declared_at: dt.datetime) -> dt.datetime | None:
        """When the decision is due (None: no deadline at this severity, or none assessed yet)."""
        return _after(declared_at, self.decide_within(severity))

    def escalation_at(self, severity: str | None, declared_at: dt.datetime) -> dt.datetime | None:
        return _after(declared_at, self.escalate_after(severity))


def _after(t: dt.datetime, seconds: int | None) -> dt.datetime | None:
    if seconds is None:
        return None
    return (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t) + dt.timedelta(seconds=seconds)


def _seconds(v: object) -> int | None:
    if v == 0 and not isinstance(v, bool):
        return 0
    if v in ("none", "off", None) or v is False:
        return None
    return duration_seconds(v) if is_duration(v) else -1


def read_deadlines(r: CatalogReader, spec: dict[str, yaml.Node], where: str, kwargs: dict) -> None:
    """``decision_deadlines: {critical: 0, high: 10m, medium: 30m, low: none}`` and ``update_every: 30m``."""
    if "update_every" in spec and r.value(spec["update_every"]) is not None:
        every = r.check(spec["update_every"], f"{where}.update_every", is_duration, "a duration such as 30m")
        if every is not INVALID:
            kwargs["update_every"] = duration_seconds(every)
    node = spec.get("decision_deadlines")
    if node is None or r.value(node) is None:
        return
    given = r.mapping(node, f"{where}.decision_deadlines", _KEYS) or {}
    values = {}
    for key, value_node in given.items():
        seconds = _seconds(r.value(value_node))
        if seconds == -1 or (key == "escalate_critical_after" and not seconds):
            expected = "a duration such as 10m" + ("" if key == "escalate_critical_after" else ", 0 (now) or none")
            r.error(value_node, f"{where}.decision_deadlines.{key}", f"expected {expected}")
            continue
        values[key] = seconds
    if len(values) == len(given):
        kwargs["decision_deadlines"] = replace(Deadlines(), **values)
