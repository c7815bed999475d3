"""The verification analysis' rules, fed check by check without time: when a rollback counts as verified."""

from __future__ import annotations

import pytest

from bot.config import Analysis, Thresholds
from bot.signals.analysis import Bake, Outcome, Verdict, judge, unconfigured, window
from bot.signals.metrics import Reading
from bot.strategies.base import Check

CLUSTER = (Check("pods", True, "3/3 ready"), Check("endpoints", True, "3 addresses"), Check("health URL", True, "UP"))
HEALTHY = {"http_5xx_rate": Reading(0.006), "latency_p95": Reading(0.21)}
FAILING = {"http_5xx_rate": Reading(0.30), "latency_p95": Reading(2.4)}
NO_DATA = {"http_5xx_rate": Reading(), "latency_p95": Reading()}
DOWN = {s: Reading(error="ConnectionError: connection refused") for s in ("http_5xx_rate", "latency_p95")}
DEFAULTS = Analysis()  # a check every 15s for 1m: four checks; two failed checks fail it


def check(readings, cluster=CLUSTER):
    return judge(cluster, readings, Thresholds())


def play(*readings, analysis=DEFAULTS):
    """Feed checks until an outcome; returns (outcome, the progress lines shown on the way, the bake)."""
    bake, lines = Bake(analysis), []
    for r in readings:
        if bake.feed(check(r)) is not None:
            return bake.outcome, lines, bake
        lines.append(bake.progress())
    return None, lines, bake


# ------------------------------------------------------------------------ one check


def test_a_check_passes_only_with_every_signal_read_and_under_its_threshold():
    assert check(HEALTHY).verdict is Verdict.PASSED
    assert check(HEALTHY).summary == "5xx 0.6% ✓ · p95 0.21 s ✓"
    bad = check(FAILING)
    assert bad.verdict is Verdict.FAILED
    assert bad.summary == "5xx 30% ✗ (above 5%) · p95 2.40 s ✗ (above 1 s)"
    assert check({**HEALTHY, "latency_p95": Reading()}).verdict is Verdict.WAITING
    assert check(NO_DATA).summary == "5xx waiting for data · p95 waiting for data"
    assert check(DOWN).verdict is Verdict.UNREACHABLE


def test_the_5xx_check_uses_its_own_threshold_not_the_error_rate_trigger():
    readings = {**HEALTHY, "http_5xx_rate": Reading(0.08)}
    assert judge(CLUSTER, readings, Thresholds(error_rate=0.10)).verdict is Verdict.FAILED
    assert judge(CLUSTER, readings, Thresholds(http_5xx_rate=0.10)).verdict is Verdict.PASSED


def test_a_known_bad_item_fails_the_check_even_when_prometheus_is_down():
    pods_down = (Check("pods", False, "1/3 ready"), *CLUSTER[1:])
    assert check(HEALTHY, pods_down).verdict is Verdict.FAILED
    assert "pods ✗" in check(HEALTHY, pods_down).summary
    assert check(DOWN, pods_down).verdict is Verdict.FAILED
    assert check({**DOWN, "http_5xx_rate": Reading(0.3)}).verdict is Verdict.FAILED


def test_an_item_that_cannot_be_checked_does_not_block_a_pass():
    no_health_url = (*CLUSTER[:2], Check("health URL", None, "no health URL in the services catalog"))
    assert check(HEALTHY, no_health_url).verdict is Verdict.PASSED


def test_the_window_holds_only_traffic_since_the_rollout():
    assert window(15.7, scrape_interval=1) == "15s"  # never reaching back before the rollout completed
    assert window(60, scrape_interval=15) == "60s"
    assert window(29.9, scrape_interval=15) is None  # fewer than two scrapes: nothing to read yet
    assert window(1.5, scrape_interval=1) is None


# ------------------------------------------------------------------------ the bake


def test_a_healthy_release_is_verified_after_the_whole_bake():
    outcome, lines, bake = play(HEALTHY, HEALTHY, HEALTHY, HEALTHY, HEALTHY)
    assert outcome is Outcome.VERIFIED and bake.done == 4
    assert lines == [f"check {n}/4: 5xx 0.6% ✓ · p95 0.21 s ✓" for n in (1, 2, 3)]
    result = bake.result()
    assert result.verification.ok and result.checks == 4
    assert result.reason.startswith("4 checks in a row over 1m since the rollout passed")


def test_late_data_is_waiting_then_passes_and_waiting_never_counts_as_a_pass():
    outcome, lines, bake = play(NO_DATA, NO_DATA, HEALTHY, HEALTHY, HEALTHY, HEALTHY)
    assert outcome is Outcome.VERIFIED and bake.done == 6  # four passes, not four checks
    assert lines[0] == "check 1/5: 5xx waiting for data · p95 waiting for data"
    assert lines[2] == "check 3/6: 5xx 0.6% ✓ · p95 0.21 s ✓"
    assert play(NO_DATA, NO_DATA, NO_DATA, HEALTHY)[0] is None  # three waits and a pass: not yet


def test_healthy_for_one_check_then_failing_fails_and_never_passes_early():
    outcome, lines, bake = play(HEALTHY, FAILING, FAILING, HEALTHY, HEALTHY, HEALTHY)
    assert outcome is Outcome.FAILED and bake.done == 3
    assert lines[1].endswith("· 1 failed (verification fails at 2)")
    result = bake.result()
    assert not result.verification.ok
    assert result.reason.startswith("2 of 3 checks failed (limit 2): 5xx 30% ✗")


def test_a_failed_check_starts_the_bake_again():
    outcome, _, bake = play(HEALTHY, HEALTHY, HEALTHY, FAILING, HEALTHY, HEALTHY, HEALTHY)
    assert outcome is None, "three passes after a failure are not a bake"
    assert bake.progress() == "check 7/8: 5xx 0.6% ✓ · p95 0.21 s ✓ · 1 failed (verification fails at 2)"
    assert play(HEALTHY, FAILING, HEALTHY, HEALTHY, HEALTHY, HEALTHY)[0] is Outcome.VERIFIED


def test_failure_limit_comes_from_the_catalog():
    assert play(FAILING, analysis=Analysis(failure_limit=1))[0] is Outcome.FAILED
    assert play(FAILING, FAILING, analysis=Analysis(failure_limit=3))[0] is None


def test_prometheus_down_during_the_bake_cannot_verify():
    outcome, lines, bake = play(HEALTHY, DOWN, DOWN, DOWN, DOWN)
    assert outcome is Outcome.COULD_NOT_VERIFY and bake.done == 5
    assert lines[1] == "check 2/5: 5xx unreadable · p95 unreadable"
    result = bake.result()
    assert result.reason == "Prometheus did not answer for 4 checks in a row (ConnectionError: connection refused)"
    assert not any(c.ok for c in result.verification.checks if c.name in ("5xx rate", "p95 latency"))


def test_no_data_for_a_whole_bake_cannot_verify():
    outcome, _, bake = play(NO_DATA, NO_DATA, NO_DATA, NO_DATA)
    assert outcome is Outcome.COULD_NOT_VERIFY
    assert bake.result().reason == "Prometheus had no data since the rollout for 4 checks in a row"


def test_a_short_bake_from_the_catalog():
    quick = Analysis(interval="1s", bake="3s")
    assert quick.checks == 3
    assert play(HEALTHY, HEALTHY, HEALTHY, analysis=quick)[0] is Outcome.VERIFIED
    assert Analysis(interval="15s", bake="50s").checks == 4  # a partial interval still gets its check


def test_an_ended_analysis_takes_no_more_checks():
    _, _, bake = play(HEALTHY, HEALTHY, HEALTHY, HEALTHY)
    with pytest.raises(RuntimeError, match="over"):
        bake.feed(check(HEALTHY))
    with pytest.raises(RuntimeError, match="no outcome"):
        Bake(DEFAULTS).result()


def test_without_prometheus_a_failing_cluster_check_still_fails():
    broken = judge((Check("pods", False, "0/3 ready"),), {}, Thresholds())
    assert unconfigured(broken).outcome is Outcome.FAILED
    fine = judge((Check("pods", True, "3/3 ready"),), {}, Thresholds())
    assert unconfigured(fine).outcome is Outcome.COULD_NOT_VERIFY


# ------------------------------------------------------------------------ the cluster could not be read

API_DOWN = "the Kubernetes API server is failing (500 InternalError) when the bot tried to list pods (3 tries)"
HEALTH_UP = (Check("health URL", True, "UP"),)


def unread(readings=HEALTHY):
    """A check whose cluster reads failed for good: only the health URL and Prometheus were read."""
    return judge(HEALTH_UP, readings, Thresholds(), unread=API_DOWN)


def test_an_unreadable_cluster_fails_the_check_with_its_reason_and_nothing_known_bad():
    result = unread()
    assert result.verdict is Verdict.FAILED and not result.saw_bad
    assert result.summary == "cluster unreadable · 5xx 0.6% ✓ · p95 0.21 s ✓"
    assert result.items[0] == Check("cluster", None, f"could not be read: {API_DOWN}")
    assert unread(FAILING).saw_bad, "what Prometheus saw is still bad"


def test_an_api_outage_counts_against_the_failure_limit_and_ends_as_could_not_verify_never_failed():
    bake = Bake(DEFAULTS)
    assert bake.feed(check(HEALTHY)) is None
    assert bake.feed(unread()) is None
    shown = "check 2/6: cluster unreadable · 5xx 0.6% ✓ · p95 0.21 s ✓ · 1 failed (verification stops at 2)"
    assert bake.progress() == shown
    assert bake.feed(unread()) is Outcome.COULD_NOT_VERIFY
    result = bake.result()
    assert result.reason == (
        f"2 of 3 checks failed (limit 2), 2 of them because the cluster could not be read: {API_DOWN}"
    )
    assert result.verification.checks[0].ok is None, "shown as not checked, never as failed or passed"


def test_one_unreadable_check_restarts_the_bake_then_a_healthy_release_is_verified():
    bake = Bake(DEFAULTS)
    fed = [bake.feed(c) for c in (check(HEALTHY), unread(), *[check(HEALTHY)] * 4)]
    assert fed[-1] is Outcome.VERIFIED and fed[:-1] == [None] * 5 and bake.done == 6


def test_a_bad_check_and_an_unreadable_one_cannot_verify_but_bad_checks_alone_fail():
    mixed = Bake(DEFAULTS)
    mixed.feed(check(FAILING))
    assert mixed.feed(unread()) is Outcome.COULD_NOT_VERIFY
    assert "1 of them because the cluster could not be read" in mixed.result().reason
    assert play(FAILING, HEALTHY, FAILING)[0] is Outcome.FAILED
    assert play(FAILING, FAILING, analysis=Analysis(failure_limit=2))[0] is Outcome.FAILED


def test_without_prometheus_an_unreadable_cluster_cannot_verify():
    result = unconfigured(judge(HEALTH_UP, {}, Thresholds(), unread=API_DOWN))
    assert result.outcome is Outcome.COULD_NOT_VERIFY
    assert result.reason == (
        f"Prometheus is not configured (PROMETHEUS_URL is not set), and the cluster could not be read: {API_DOWN}"
    )
