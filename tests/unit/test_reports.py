"""Postmortem and status update rendering: sections, durations, checklist, safe tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from bot import reports as r
from bot.signals.severity import Severity, SignalReading


def at(minute: int, second: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2026, 3, day, 3, minute, second, tzinfo=dt.UTC)


FULL = r.PostmortemInput(
    incident_key="INC-2026-001",
    service="shopping-service",
    namespace="shopping",
    severity=Severity.HIGH,
    status="resolved",
    declared_by="alice",
    lead="@bob",
    deployed_at=at(0) - dt.timedelta(minutes=10),
    detected_at=at(0),
    detected_how="alert HighErrorRate's startsAt",
    declared_at=at(2),
    decision=r.Decision("bob", "Roll back to previous (rev 2)", at(5)),
    rollback_started_at=at(5, 10),
    rollback_finished_at=at(9, 22),
    mitigated_at=at(9, 30),
    resolved_at=at(40),
    from_version="v1.2.5",
    to_version="v1.2.4",
    strategy="kubernetes",
    root_cause="The new payment client timed out.",
    impact="Checkout failed for about 30% of requests.",
    lessons="Canary first.",
    action_items=(
        r.ActionItem("Alert on p95 latency", "carol", dt.date(2026, 12, 1)),
        r.ActionItem("Document the\nrollback", "", None, done=True),
    ),
    events=(
        r.Event(at(5, 10), "rollback_started", "", "Rollback to v1.2.4 started"),
        r.Event(at(2), "declared", "alice", "Declared: checkout | cart\nboth failing"),
        r.Event(at(9, 22), "rollback_finished", "", "3/3 replicas available; verification passed"),
    ),
    signals=(
        SignalReading("http_5xx_rate", "5xx rate", 0.301, 0.25, "%", True),
        SignalReading("latency_p95", "p95 latency", None, 1.0, "s", None),
    ),
)
SECTIONS = [
    "## Summary",
    "## Impact",
    "## Root cause",
    "## Timeline",
    "## Strategy",
    "## Lessons learned",
    "## Action items",
]


def section(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].strip()


def test_postmortem_has_every_section_in_order():
    md = r.render_postmortem(FULL)
    assert md.startswith("# Postmortem: INC-2026-001 — shopping-service\n")
    assert re.findall(r"^## .*$", md, flags=re.M) == SECTIONS
    assert section(md, "Root cause") == "The new payment client timed out."
    assert section(md, "Impact") == "Checkout failed for about 30% of requests."


def test_summary_states_versions_people_and_durations():
    summary = section(r.render_postmortem(FULL), "Summary")
    for line in (
        "- **Versions:** v1.2.5 -> v1.2.4 (rollback)",
        "- **Severity:** High",
        "- **Declared by:** @alice",
        "- **Incident lead:** @bob",
        "- **Deployed:** 2026-03-01 02:50:00 UTC",
        "- **Detected:** 2026-03-01 03:00:00 UTC (first breach: alert HighErrorRate's startsAt)",
        "- **Declared:** 2026-03-01 03:02:00 UTC",
        "- **Decision:** Roll back to previous (rev 2), by @bob at 2026-03-01 03:05:00 UTC",
        "- **Rollback started:** 2026-03-01 03:05:10 UTC",
        "- **Rollback finished:** 2026-03-01 03:09:22 UTC",
        "- **Rollback duration:** 4 min 12 s",
        "- **Mitigated:** 2026-03-01 03:09:30 UTC",
        "- **Resolved:** 2026-03-01 03:40:00 UTC",
        "- **Time to detect (deploy → first breach):** 10 min",
        "- **Time to decide (declaration → decision):** 3 min",
        "- **Time to mitigate (first breach → mitigated):** 9 min 30 s",
        "- **Time to resolve (first breach → resolved):** 40 min",
        "| 5xx rate | 30.1% (threshold 25%) | yes |",
        "| p95 latency | unavailable | unknown |",
    ):
        assert line in summary.splitlines()


def test_durations():
    assert r.duration(at(0), at(0, 42)) == "42 s"
    assert r.duration(at(0), at(4, 12)) == "4 min 12 s"
    assert r.duration(at(0), at(7)) == "7 min"
    assert r.duration(at(0), at(0) + dt.timedelta(hours=1, minutes=5, seconds=9)) == "1 h 5 min"
    assert r.duration(at(0).replace(tzinfo=None), at(1)) == "1 min"  # naive (SQLite) times are UTC
    assert r.duration(None, at(1)) == r.duration(at(2), at(1)) == "_Not recorded_"


def test_timeline_is_a_safe_table_in_time_order():
    timeline = section(r.render_postmortem(FULL), "Timeline")
    assert "Times are 2026-03-01, UTC." in timeline
    rows = [line for line in timeline.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Time (UTC) | Who | What |"
    assert rows[1] == "| --- | --- | --- |"
    assert rows[2:] == [
        r"| 03:02:00 | @alice | Declared: checkout \| cart<br>both failing |",
        "| 03:05:10 | bot | Rollback to v1.2.4 started |",
        "| 03:09:22 | bot | 3/3 replicas available; verification passed |",
    ]


def test_timeline_over_several_days_shows_dates():
    data = dataclasses.replace(
        FULL, events=(r.Event(at(0), "declared", "alice", "x"), r.Event(at(1, day=2), "resolved", "bob", "y"))
    )
    timeline = section(r.render_postmortem(data), "Timeline")
    assert "| 2026-03-01 03:00:00 | @alice | x |" in timeline
    assert "| 2026-03-02 03:01:00 | @bob | y |" in timeline


def test_action_items_are_a_checklist():
    items = section(r.render_postmortem(FULL), "Action items").splitlines()
    assert items == [
        "- [ ] Alert on p95 latency — @carol, due 2026-12-01",
        "- [x] Document the rollback — owner _Not recorded_, due _Not recorded_",
    ]


def test_missing_fields_say_not_recorded():
    md = r.render_postmortem(r.PostmortemInput("INC-2026-002", "billing", "payments"))
    assert re.findall(r"^## .*$", md, flags=re.M) == SECTIONS
    for title in ("Impact", "Root cause", "Timeline", "Lessons learned", "Action items"):
        assert section(md, title) == "_Not recorded_"
    assert "- **Versions:** _Not recorded_" in md and "- **Rollback duration:** _Not recorded_" in md
    assert "None" not in md
    assert not re.search(r"\*\*:\*\* *$", md, flags=re.M)  # no label left blank


def test_status_update_is_escaped_slack_text():
    update = r.StatusUpdateInput(
        incident_key="INC-2026-001",
        service="shopping-service",
        status="Mitigated",
        summary="Errors are back to 0.6% <!channel>",
        author="U0BOB",
        posted_at=at(30),
        next_steps="Watch for 30 minutes & then resolve",
        next_update_at=at(59),
        severity=Severity.HIGH,
        channel_id="C0INC1",
    )
    text = r.render_status_update(update)
    assert text.splitlines()[0] == ":mega: *Status update · INC-2026-001 · shopping-service* · High severity"
    assert "*Status:* Mitigated" in text
    assert "*What is happening:* Errors are back to 0.6% &lt;!channel&gt;" in text
    assert "*What happens next:* Watch for 30 minutes &amp; then resolve" in text
    assert f"*Next update:* by <!date^{int(at(59).timestamp())}^{{time}}|03:59 UTC>" in text, "each reader's time"
    assert f"at <!date^{int(update.posted_at.timestamp())}^{{time}}|03:30 UTC>" in text
    assert "<@U0BOB>" in text and "follow along in <#C0INC1>" in text
    bare = r.render_status_update(
        dataclasses.replace(update, next_steps="", next_update_at=None, channel_id="")
    )
    assert "*What happens next:* _Not recorded_" in bare and "*Next update:* none planned" in bare
    assert "follow along" not in bare


def test_the_strategy_section_shows_the_plan_and_each_step():
    data = dataclasses.replace(
        FULL,
        strategy="canary",
        plan_changes=("step the canary's share of traffic down: 80% → 50% → 0% (VirtualService checkout weights)",),
        strategy_steps=(
            r.Event(at(6), "canary_step", "", "Canary at 50% of traffic: 5xx 20.3% · p95 0.61 s"),
            r.Event(at(6, 30), "canary_zero", "bob", "@bob sent the canary to 0%"),
            r.Event(at(7), "canary_removed", "", "checkout-canary scaled to 0"),
        ),
    )
    strategy = section(r.render_postmortem(data), "Strategy")
    assert strategy.startswith("**canary**: the plan that was confirmed said it would")
    assert "- step the canary's share of traffic down: 80% → 50% → 0%" in strategy
    assert "| 03:06:00 | Canary at 50% of traffic: 5xx 20.3% · p95 0.61 s |" in strategy
    assert "| 03:06:30 | bob: @bob sent the canary to 0% |" in strategy


def test_a_strategy_that_never_ran_says_so():
    strategy = section(r.render_postmortem(r.PostmortemInput("INC-2026-002", "billing", "payments")), "Strategy")
    assert strategy == "**_Not recorded_**: no plan was confirmed.\n\nNo step of the strategy ran."


def test_times_not_recorded_say_so_and_the_impact_starts_at_the_deploy_when_no_breach_is_known():
    bare = dataclasses.replace(FULL, detected_at=None, detected_how="", decision=None, resolved_at=None)
    summary = section(r.render_postmortem(bare), "Summary").splitlines()
    assert "- **Detected:** _Not recorded_" in summary
    assert "- **Time to detect (deploy → first breach):** _Not recorded_" in summary
    assert "- **Time to decide (declaration → decision):** _Not recorded_" in summary
    assert "- **Time to mitigate (first breach → mitigated):** 19 min 30 s" in summary  # from the deploy
    assert "- **Time to resolve (first breach → resolved):** _Not recorded_" in summary
