"""The postmortem's time figures, end to end: deploy, first breach, declaration, decision, mitigation and
resolution with TTD / time to decide / TTM / TTR; Slack shows the times as ``<!date^…>`` tokens (each reader's
own time zone), the markdown in UTC."""

from __future__ import annotations

import re
import time

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import QUICK_BAKE, SERVICE, channel_prefix
from tests.e2e.test_strategies import postmortem
from tests.support import need_binary

pytestmark = pytest.mark.prometheus
SHORT = {f"{signal}_for": "5s" for signal in ("error_rate", "success_rate", "latency_p95", "memory")}
UTC_TIME = r"2\d{3}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


def resolve(alice: OnCall, channel_id: str) -> tuple[str, dict]:
    """Resolve from the card; the postmortem markdown and the message it came with."""
    markdown = postmortem(alice.h.world, alice, channel_id)
    return markdown, alice.message_saying(channel_id, "is resolved. Here is the postmortem")


def declare_and_roll_back(alice: OnCall):
    """``/rollback`` the service, roll back to the previous revision, confirm; the channel and the outcome."""
    alice.type(f"{SERVICE} checkout errors")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    outcomes = ("is back on", "FAILED", "NOT healthy", "could not be verified")
    return channel, alice.message_saying(channel.id, *outcomes, timeout=120)


def summary_lines(markdown: str) -> dict[str, str]:
    summary = markdown.split("## Summary\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^- \*\*(.+?):\*\* (.*)$", summary, flags=re.M))


def assert_time_figures(markdown: str, message: dict, detected_how: str) -> dict[str, str]:
    lines = summary_lines(markdown)
    for label in ("Deployed", "Declared", "Mitigated", "Resolved", "Rollback started"):
        assert re.fullmatch(UTC_TIME, lines[label]), f"{label}: {lines[label]}"
    assert re.match(UTC_TIME + re.escape(f" (first breach: {detected_how}"), lines["Detected"]), lines["Detected"]
    for label in (
        "Time to detect (deploy → first breach)",
        "Time to decide (declaration → decision)",
        "Time to mitigate (first breach → mitigated)",
        "Time to resolve (first breach → resolved)",
    ):
        assert re.fullmatch(r"\d+ (s|min( \d+ s)?|h \d+ min)", lines[label]), f"{label}: {lines[label]}"
    assert "<!date^" not in markdown, "the markdown stays UTC"
    said = message.get("text") or ""
    tokens = re.findall(r"<!date\^(\d+)\^\{time_secs\}\|(\d\d:\d\d:\d\d) UTC>", said)
    assert len(tokens) >= 5, said  # deployed, first breach, declared, decided, mitigated, resolved
    assert "time to decide" in said and "time to mitigate" in said and "time to resolve" in said
    declared = lines["Declared"].split(" ")[1]
    assert declared in [t for _, t in tokens], "the same instant in Slack as in the markdown"
    return lines


def test_a_person_declares_first_and_the_first_breach_comes_from_query_range():
    need_binary("prometheus")
    overrides = {**QUICK_BAKE, "thresholds": SHORT, "window": "20s"}
    with World(prometheus=True, catalog_overrides=overrides) as world, BotHarness(world) as bot:
        time.sleep(12)  # the bad release's traffic in Prometheus longer than the trigger's 5 s
        alice = OnCall(bot, ONCALL)
        channel, done = declare_and_roll_back(alice)
        assert "is back on v1.2.4" in done["text"]
        alice.message_with(channel.id, ActionId.RESOLVE)
        markdown, message = resolve(alice, channel.id)
        assert_time_figures(markdown, message, "Prometheus query_range: ")
        incident = incident_in_channel(bot.rt, channel.id)
        (found,) = [e for e in timeline.events(bot.rt.db, incident.id) if e.kind == "detected"]
        assert found.data["source"] == "query_range" and found.at and found.data["at"] < incident.created_at.isoformat()
