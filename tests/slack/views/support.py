"""What the Block Kit tests share: one incident at several stages, and what Slack would accept."""

from __future__ import annotations

import dataclasses
import datetime as dt

from slack_sdk.models.blocks import Block

from bot.signals.severity import Assessment, Severity, SignalReading
from bot.slack import views as v
from bot.strategies.base import Check, Revision, Verification

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

V123 = Revision(
    1,
    "registry.local/shopping-service:v1.2.3",
    "deploy v1.2.3: checkout redesign",
    NOW - dt.timedelta(hours=72),
)

V124 = Revision(
    2,
    "registry.local/shopping-service:v1.2.4",
    "deploy v1.2.4: faster cart totals",
    NOW - dt.timedelta(hours=26),
)

V125 = Revision(
    3,
    "registry.local/shopping-service:v1.2.5",
    "deploy v1.2.5: new payment client",
    NOW - dt.timedelta(minutes=32),
)

ASSESSMENT = Assessment(
    Severity.HIGH,
    ("5xx rate 30.1% is above 25%",),
    (
        SignalReading("http_5xx_rate", "5xx rate", 0.301, 0.05, "%", True),
        SignalReading("latency_p95", "p95 latency", None, 1.0, "s", None),
        SignalReading("memory", "Memory", 0.45, 0.9, "%", False),
    ),
)

INFO = v.CardInfo(
    incident_key="INC-2026-001",
    service="shopping-service",
    namespace="shopping",
    status="open",
    reason="checkout returns 500s",
    declared_by="U0ALICE",
    lead="U0BOB",
    created_at=NOW - dt.timedelta(minutes=4),
    current=V125,
    target=V124,
    assessment=ASSESSMENT,
    history=(V125, V124, V123),
    channel_id="C0INC1",
    check_by_hand="`kubectl rollout status deployment/shopping-service -n shopping`",
)

STEPS = (
    v.Step("Pre-checks", "done", "target exists, not paused"),
    v.Step("Roll back", "running", "2/3 new replicas available"),
    v.Step("Verify", "pending"),
)

PASSED = Verification((Check("Pods ready", True, "3/3"), Check("Error rate", True, "0.6%")))

FAILED = Verification(
    (Check("Pods ready", False, "0/3 ready"), Check("p95 latency", None, "Prometheus unreachable"))
)

UNKNOWN = Verification((Check("Pods ready", True, "3/3"), Check("5xx rate", None, "Prometheus unreachable")))


def with_run(status: str, **kw) -> v.CardInfo:
    run = v.RunInfo(status=status, requested_by="U0BOB", steps=STEPS, to_revision=V124, **kw)
    return dataclasses.replace(INFO, run=run)


def assert_valid(blocks: list[dict]) -> None:
    """What Slack would accept: known block shapes (the SDK round-trips them), limits, ≤ 50 blocks."""
    assert 0 < len(blocks) <= v.MAX_BLOCKS
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict() == block  # to_dict validates nested elements; equality: no unknown keys
        check_limits(block)


def check_limits(node: object) -> None:
    """Limits the SDK does not check everywhere (option text, select sizes)."""
    if isinstance(node, list):
        for item in node:
            check_limits(item)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "button":
        assert len(node["text"]["text"]) <= 75 and len(node["value"]) <= 2000
    if "options" in node:
        assert 0 < len(node["options"]) <= 100
        for option in node["options"]:
            assert len(option["text"]["text"]) <= 75 and len(option["value"]) <= 150
    if kind == "section":
        assert len(node.get("text", {}).get("text", "")) <= 3000
        assert len(node.get("fields", [])) <= 10
    for value in node.values():
        check_limits(value)


def elements(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def action_ids(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for e in elements(blocks)]


def mrkdwn_text(node: object) -> str:
    """Every mrkdwn string in the blocks (plain_text is never parsed for mentions or links)."""
    if isinstance(node, list):
        return "\n".join(mrkdwn_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "mrkdwn":
        return node["text"]
    return "\n".join(t for t in (mrkdwn_text(n) for n in node.values()) if t)
