"""Verification after a rollback as an analysis in the manner of Flagger / Argo Rollouts: the rules.

A check every ``analysis.interval``: the cluster's own checks, the health URL, and the 5xx
rate and p95 latency of the traffic served since the rollout completed (never the
detection window, which still holds the bad release's traffic). The rules:

- a check fails when any item is known bad, or when the cluster could not be read (the
  Kubernetes API still failing after its retries: nothing is known bad, nothing passed);
  it is "waiting" when a signal has no data yet (or Prometheus cannot answer) and nothing
  is bad; it passes only with every signal read and under its threshold. Waiting never
  counts as a pass;
- verified once ``analysis.checks`` checks passed (the bake); a failed check starts the
  bake again, and ``failure_limit`` failed checks end it at once: as failed when every one
  of them saw something bad, else as "could not verify" (an API server outage is not a
  bad release);
- a bake's worth of checks in a row without data ends it as "could not verify": an
  unread service is never reported healthy.

Pure state, fed one check at a time, so the rules are tested without time; the loop that
reads Prometheus and sleeps is ``bot.signals.verification``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.config import Analysis, Thresholds
from bot.signals.metrics import Reading
from bot.signals.severity import format_number
from bot.strategies.base import Check, Verification


class Verdict(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    WAITING = "waiting"  # no samples since the rollout yet
    UNREACHABLE = "unreachable"  # Prometheus did not answer


class Outcome(enum.Enum):
    """Also the timeline event kinds."""

    VERIFIED = "verified"
    FAILED = "verification_failed"
    COULD_NOT_VERIFY = "could_not_verify"

    @property
    def title(self) -> str:
        return self.value.replace("_", " ").capitalize()  # "Verification failed"


@dataclass(frozen=True)
class Metric:
    signal: str
    short: str  # on the progress line
    name: str  # in the list of checks
    unit: str
    limit: str  # the Thresholds field


METRICS = (
    Metric("http_5xx_rate", "5xx", "5xx rate", "%", "http_5xx_rate"),
    Metric("latency_p95", "p95", "p95 latency", "s", "latency_p95"),
)


def window(elapsed: float, scrape_interval: float) -> str | None:
    """The PromQL range holding only traffic since the rollout completed ``elapsed`` seconds ago.

    None while that is shorter than two scrape intervals: rate() needs two samples, and a
    longer range would reach back into the bad release's traffic.
    """
    if elapsed < 2 * scrape_interval:
        return None
    return f"{int(elapsed)}s"


@dataclass(frozen=True)
class CheckResult:
    """One check of the bake: every item, the verdict, and the progress line's summary."""

    items: tuple[Check, ...]
    verdict: Verdict
    summary: str  # "5xx 0.6% ✓ · p95 0.21 s ✓"
    error: str = ""  # why Prometheus could not answer
    unread: str = ""  # why the cluster could not be read (the check fails without anything known bad)

    @property
    def saw_bad(self) -> bool:
        return any(c.ok is False for c in self.items)


def judge(
    cluster: Sequence[Check],
    readings: Mapping[str, Reading],
    thresholds: Thresholds,
    unread: str = "",
    source: str = "Prometheus",
) -> CheckResult:
    """One check from the cluster's items (pods, endpoints, health URL) and the signals since the rollout;
    ``unread``: why the cluster's own items could not be read this time."""
    items, parts, errors = list(cluster), [], []
    if unread:
        items.insert(0, Check("cluster", None, f"could not be read: {unread}"))
        parts.append("cluster unreadable")
    for m in METRICS:
        reading = readings.get(m.signal) or Reading()
        limit = float(getattr(thresholds, m.limit))
        shown_limit = format_number(limit, m.unit, precise=False)
        if reading.error:
            errors.append(reading.error)
            items.append(Check(m.name, None, f"{source} could not answer: {reading.error}"))
            parts.append(f"{m.short} unreadable")
        elif reading.value is None:
            items.append(Check(m.name, None, "no data since the rollout yet"))
            parts.append(f"{m.short} waiting for data")
        else:
            ok = reading.value <= limit
            value = format_number(reading.value, m.unit)
            items.append(Check(m.name, ok, f"{value} since the rollout (threshold {shown_limit})"))
            parts.append(f"{m.short} {value} ✓" if ok else f"{m.short} {value} ✗ (above {shown_limit})")
    parts += [f"{c.name} ✗" for c in cluster if c.ok is False]
    if unread or any(c.ok is False for c in items):
        verdict = Verdict.FAILED
    elif errors:
        verdict = Verdict.UNREACHABLE
    elif any(c.ok is None for c in items[len(cluster) :]):
        verdict = Verdict.WAITING
    else:
        verdict = Verdict.PASSED
    return CheckResult(tuple(items), verdict, " · ".join(parts), errors[0] if errors else "", unread)


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str  # one line for the message: why this outcome
    verification: Verification  # the deciding check's items (the card and the timeline show them)
    checks: int  # checks made


@dataclass
class Bake:
    """The analysis so far; ``feed`` one check at a time until it returns an outcome."""

    analysis: Analysis
    source: str = "Prometheus"  # where the signals come from (CloudWatch for signals: cloudwatch)
    passed: int = 0  # passes since the bake (re)started
    failed: int = 0
    unread: int = 0  # of the failed checks, those that could not read the cluster and saw nothing bad
    blind: int = 0  # checks in a row without data
    done: int = 0
    last: CheckResult | None = field(default=None, repr=False)
    last_unread: CheckResult | None = field(default=None, repr=False)
    outcome: Outcome | None = None

    def feed(self, check: CheckResult) -> Outcome | None:
        if self.outcome is not None:
            raise RuntimeError(f"the analysis is over ({self.outcome.value})")
        self.done, self.last = self.done + 1, check
        if check.verdict is Verdict.FAILED:
            self.failed, self.passed, self.blind = self.failed + 1, 0, 0
            if not check.saw_bad:
                self.unread, self.last_unread = self.unread + 1, check
            if self.failed >= self.analysis.failure_limit:
                self.outcome = Outcome.COULD_NOT_VERIFY if self.unread else Outcome.FAILED
        elif check.verdict is Verdict.PASSED:
            self.passed, self.blind = self.passed + 1, 0
            if self.passed >= self.analysis.checks:
                self.outcome = Outcome.VERIFIED
        else:
            self.blind += 1
            if self.blind >= self.analysis.checks:
                self.outcome = Outcome.COULD_NOT_VERIFY
        return self.outcome

    def progress(self) -> str:
        """The card's line, "check 3/4: 5xx 0.6% ✓ · p95 0.21 s ✓": this check of those it takes if the rest pass."""
        total = self.done - self.passed + self.analysis.checks
        line = f"check {self.done}/{total}: {self.last.summary if self.last else 'starting'}"
        if self.failed:
            ends = "stops" if self.unread else "fails"  # an unread cluster never makes it "failed"
            line += f" · {self.failed} failed (verification {ends} at {self.analysis.failure_limit})"
        return line

    def result(self) -> Result:
        if self.outcome is None or self.last is None:
            raise RuntimeError("the analysis has no outcome yet")
        a, deciding = self.analysis, self.last
        if self.outcome is Outcome.VERIFIED:
            reason = f"{self.passed} checks in a row over {a.bake} since the rollout passed"
        elif self.outcome is Outcome.FAILED:
            reason = f"{self.failed} of {self.done} checks failed (limit {a.failure_limit}): {self.last.summary}"
        elif self.last_unread is not None and self.failed >= a.failure_limit:
            deciding = self.last_unread  # the outcome is about what could not be read
            reason = (
                f"{self.failed} of {self.done} checks failed (limit {a.failure_limit}), {self.unread} of them "
                f"because the cluster could not be read: {deciding.unread}"
            )
        elif self.last.error:
            reason = f"{self.source} did not answer for {self.blind} checks in a row ({self.last.error})"
        else:
            reason = f"{self.source} had no data since the rollout for {self.blind} checks in a row"
        return Result(self.outcome, reason, Verification(deciding.items), self.done)


def unconfigured(check: CheckResult) -> Result:
    """Without a Prometheus to read there is nothing to bake: say so at once (a known-bad cluster check fails)."""
    if check.saw_bad:
        return Result(Outcome.FAILED, f"{check.summary} (Prometheus is not configured)", Verification(check.items), 1)
    reason = "Prometheus is not configured (PROMETHEUS_URL is not set)"
    if check.unread:
        reason += f", and the cluster could not be read: {check.unread}"
    return Result(Outcome.COULD_NOT_VERIFY, reason, Verification(check.items), 1)
