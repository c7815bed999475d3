"""Severity rules as the on-call engineer reads them on the incident card."""

from __future__ import annotations

import pytest

from bot.config import Thresholds
from bot.signals.severity import Severity, SignalReading, assess, format_value

HEALTHY = {
    "error_rate": 0.01,
    "http_5xx_rate": 0.004,
    "success_rate": 0.996,
    "latency_p95": 0.18,
    "memory": 0.42,
    "restarts": 0.0,
}
V125 = {  # the default scenario's failing release
    "error_rate": 0.307,
    "http_5xx_rate": 0.301,
    "success_rate": 0.699,
    "latency_p95": 2.41,
    "memory": 0.93,
    "restarts": 0.0,
}
T = Thresholds()


def run(declared=(), thresholds=T, **changes):
    return assess({**HEALTHY, **changes}, thresholds, declared)


def test_healthy_service_is_low_forward_fix():
    a = run()
    assert a.severity is Severity.LOW
    assert a.reasons == ("No signal that could be read is past its threshold",)
    assert all(s.breached is False for s in a.signals)


def test_the_failing_release_is_high_with_every_reason():
    a = assess(V125, T)
    assert a.severity is Severity.HIGH
    assert a.reasons == (
        "5xx rate 30.1% is above 25% (main API failing)",
        "Error rate 30.7% is above 10% (partial failure)",
        "Success rate 69.9% is below 95% (automatic trigger)",
        "p95 latency 2.41 s is above 1 s (automatic trigger)",
        "Memory 93% is above 90% (automatic trigger)",
    )


def test_signals_come_in_a_fixed_order_with_labels_units_and_thresholds():
    a = assess(V125, T)
    assert [(s.name, s.label, s.unit, s.threshold) for s in a.signals] == [
        ("error_rate", "Error rate", "%", 0.05),
        ("http_5xx_rate", "5xx rate", "%", 0.25),
        ("success_rate", "Success rate", "%", 0.95),
        ("latency_p95", "p95 latency", "s", 1.0),
        ("memory", "Memory", "%", 0.90),
        ("restarts", "Restarts", "", 5.0),
    ]
    assert [s.breached for s in a.signals] == [True, True, True, True, True, False]
    assert [format_value(s) for s in a.signals] == ["30.7%", "30.1%", "69.9%", "2.41 s", "93%", "0"]


@pytest.mark.parametrize(
    ("changes", "severity", "reason"),
    [
        ({"success_rate": 0.009}, Severity.CRITICAL, "Success rate 0.9% is below 1% (full outage)"),
        ({"success_rate": 0.01}, Severity.MEDIUM, "Success rate 1% is below 95% (automatic trigger)"),
        ({"http_5xx_rate": 0.501}, Severity.CRITICAL, "5xx rate 50.1% is above 50% (full outage)"),
        ({"http_5xx_rate": 0.50}, Severity.HIGH, "5xx rate 50% is above 25% (main API failing)"),
        ({"http_5xx_rate": 0.251}, Severity.HIGH, "5xx rate 25.1% is above 25% (main API failing)"),
        ({"latency_p95": 5.01}, Severity.HIGH, "p95 latency 5.01 s is above 5 s (very slow)"),
        ({"latency_p95": 5.0}, Severity.MEDIUM, "p95 latency 5.00 s is above 1 s (automatic trigger)"),
        ({"error_rate": 0.101}, Severity.MEDIUM, "Error rate 10.1% is above 10% (partial failure)"),
        ({"error_rate": 0.10}, Severity.MEDIUM, "Error rate 10% is above 5% (automatic trigger)"),
        ({"success_rate": 0.949}, Severity.MEDIUM, "Success rate 94.9% is below 95% (automatic trigger)"),
        ({"latency_p95": 1.01}, Severity.MEDIUM, "p95 latency 1.01 s is above 1 s (automatic trigger)"),
        ({"memory": 0.901}, Severity.MEDIUM, "Memory 90.1% is above 90% (automatic trigger)"),
        ({"restarts": 6}, Severity.MEDIUM, "Restarts 6 is above 5 (automatic trigger)"),
    ],
)
def test_each_rule_and_its_boundary(changes, severity, reason):
    a = run(**changes)
    assert a.severity is severity
    assert a.reasons[0] == reason


@pytest.mark.parametrize(
    "changes",
    [{"error_rate": 0.05}, {"success_rate": 0.95}, {"latency_p95": 1.0}, {"memory": 0.90}, {"restarts": 5}],
)
def test_exactly_at_an_automatic_trigger_is_not_a_breach(changes):
    assert run(**changes).severity is Severity.LOW


def test_a_service_s_own_thresholds_apply():
    relaxed = Thresholds(latency_p95=3.0, http_5xx_high=0.4, http_5xx_critical=0.9)
    assert run(thresholds=relaxed, latency_p95=2.5).severity is Severity.LOW
    a = run(thresholds=relaxed, http_5xx_rate=0.6, error_rate=0.6, success_rate=0.4)
    assert a.severity is Severity.HIGH
    assert a.reasons[0] == "5xx rate 60% is above 40% (main API failing)"


@pytest.mark.parametrize(
    ("declared", "what"), [("data-loss", "data loss"), ("security-breach", "security breach")]
)
def test_a_person_declaring_data_loss_or_breach_makes_it_critical(declared, what):
    a = run(declared=[declared, "no-such-declaration"])
    assert a.severity is Severity.CRITICAL
    assert a.reasons[0] == f"Declared by a person: {what}"


def test_unavailable_signals_are_shown_and_never_count_as_healthy():
    a = readings = {
        "error_rate": 0.01,
        "http_5xx_rate": None,
        "success_rate": 0.99,
        "latency_p95": float("nan"),
        "memory": 0.4,
    }
    a = assess(readings, T)
    assert a.severity is Severity.LOW
    assert a.reasons[-1] == (
        "3 of 6 signals unavailable (5xx rate, p95 latency, Restarts): severity may be understated"
    )
    unavailable = [s for s in a.signals if s.value is None]
    assert [s.name for s in unavailable] == ["http_5xx_rate", "latency_p95", "restarts"]
    assert all(s.breached is None and format_value(s) == "unavailable" for s in unavailable)


def test_when_nothing_can_be_read_it_is_at_least_medium():
    a = assess(dict.fromkeys(HEALTHY), T)
    assert a.severity is Severity.MEDIUM
    assert "cannot see the service" in a.reasons[0]
    assert assess({}, T, declared=["data-loss"]).severity is Severity.CRITICAL


def test_severity_presentation():
    assert [(s.label, s.emoji, s.decide_within_minutes) for s in Severity] == [
        ("Critical", ":red_circle:", 0),
        ("High", ":large_orange_circle:", 10),
        ("Medium", ":large_yellow_circle:", 30),
        ("Low", ":large_green_circle:", None),
    ]
    assert Severity.CRITICAL.guidance == "Roll back immediately"
    assert Severity.MEDIUM.guidance == "Try a fix, decide within 30 minutes"
    assert Severity.LOW.guidance == "Forward fix"
    assert Severity.CRITICAL.rank > Severity.HIGH.rank > Severity.MEDIUM.rank > Severity.LOW.rank


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.3012, "%", "30.1%"),
        (0.0004, "%", "0.04%"),
        (0.0, "%", "0%"),
        (2.414, "s", "2.41 s"),
        (7.0, "", "7"),
        (None, "s", "unavailable"),
    ],
)
def test_format_value(value, unit, text):
    assert format_value(SignalReading("x", "X", value, 1.0, unit, None)) == text


def test_the_first_breach_is_the_start_of_the_first_run_that_held_for_the_trigger_duration():
    import datetime as dt

    from bot.config.queries import Thresholds
    from bot.signals.breach import earliest, first_hold

    t0 = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)

    def series(*values: float) -> list[tuple[dt.datetime, float]]:
        return [(t0 + dt.timedelta(minutes=i), v) for i, v in enumerate(values)]

    limits = Thresholds(error_rate_for="3m")
    # a blip at minute 1 did not hold 3 minutes; the run from minute 4 did (4, 5, 6, 7)
    errors = series(0.01, 0.2, 0.01, 0.01, 0.3, 0.3, 0.3, 0.3)
    assert first_hold(errors, "error_rate", limits, 60) == t0 + dt.timedelta(minutes=4)
    assert first_hold(errors[:6], "error_rate", limits, 60) is None, "not held long enough yet"
    gap = [p for i, p in enumerate(errors) if i != 5]  # a missing sample breaks the run
    assert first_hold(gap, "error_rate", limits, 60) is None
    success = series(0.99, 0.5, *[0.5] * 10)  # lower is worse; 10m by default
    assert first_hold(success, "success_rate", Thresholds(), 60) == t0 + dt.timedelta(minutes=1)
    found = earliest({"error_rate": errors, "success_rate": success, "memory": []}, limits, 60)
    assert (found.signal, found.at) == ("success_rate", t0 + dt.timedelta(minutes=1))
    assert earliest({}, limits, 60) is None
