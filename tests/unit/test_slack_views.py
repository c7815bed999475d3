"""Block Kit builders: valid for Slack, the right actions per state, user text made harmless."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.signals.severity import Assessment, Severity, SignalReading
from bot.slack import views as v
from bot.strategies.base import Check, Plan, Progress, Revision, Target, Verification

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


def texts(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


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


def test_open_card_shows_facts_and_decision_buttons():
    blocks = v.incident_card(INFO, now=NOW)
    assert_valid(blocks)
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "INC-2026-001 · shopping-service", "emoji": True},
    }
    text = mrkdwn_text(blocks)
    assert ":large_orange_circle: *High*" in text and "Decide within 10 minutes" in text
    assert "*5xx rate*\n30.1% (threshold 5%) :warning:" in text
    assert "*p95 latency*\nunavailable" in text  # never shown as healthy
    assert "*Live now:* rev 3 · `v1.2.5` · deploy v1.2.5: new payment client · deployed 32 min ago" in text
    assert (
        "*Rollback target:* rev 2 · `v1.2.4` · deploy v1.2.4: faster cart totals · deployed 26 h ago" in text
    )
    assert "nothing changes until you confirm" in text
    assert action_ids(blocks) == ["rollback_previous", "choose_revision", "forward_fix", "dismiss"]
    rollback, select, _, dismiss = elements(blocks)
    assert rollback["style"] == "primary" and v.decode_value(rollback["value"]) == ("INC-2026-001", 2, "")
    assert [o["text"]["text"] for o in select["options"]] == [
        "rev 2 · v1.2.4 · deploy v1.2.4: faster cart totals",
        "rev 1 · v1.2.3 · deploy v1.2.3: checkout redesign",
    ]  # the live revision is not offered
    assert v.decode_value(select["options"][1]["value"]).revision == 1
    assert "confirm" in dismiss  # a mis-tap on a phone does not close the incident


def test_card_without_earlier_revision_or_signals_says_so():
    info = dataclasses.replace(INFO, target=None, history=(V125,), assessment=None)
    blocks = v.incident_card(info, now=NOW)
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    assert "no earlier revision" in text and "Signals not read yet" in text
    assert action_ids(blocks) == ["forward_fix", "dismiss"]


def test_running_card_replaces_buttons_with_steps_and_progress():
    blocks = v.incident_card(with_run("running", progress_message="2/3 new replicas available"), now=NOW)
    assert_valid(blocks)
    assert action_ids(blocks) == []
    text = mrkdwn_text(blocks)
    assert "*Rolling back to rev 2 · `v1.2.4`*, requested by <@U0BOB>" in text
    assert ":hourglass_flowing_sand: 2/3 new replicas available" in text
    assert ":white_check_mark: *Pre-checks* — target exists, not paused" in text
    assert ":white_circle: *Verify*" in text
    assert "you don't need to do anything" in text


def test_finished_card_offers_resolve():
    blocks = v.incident_card(with_run("succeeded", verification=PASSED), now=NOW)
    assert_valid(blocks)
    assert action_ids(blocks) == ["resolve", "post_update"]
    text = mrkdwn_text(blocks)
    assert "Rolled back to rev 2 · `v1.2.4`" in text and "Verification passed" in text
    assert "click *Resolve*" in text


@pytest.mark.parametrize(
    ("status", "extra", "loud"),
    [
        ("verification_failed", {"verification": FAILED}, "The rollback finished but verification FAILED"),
        (
            "succeeded",
            {"verification": FAILED},
            "The rollback finished but verification FAILED",
        ),  # a failed check wins over "succeeded"
        ("failed", {"error": "deadline exceeded: 1/3 replicas available"}, "The rollback FAILED"),
    ],
)
def test_failed_card_is_loud_and_offers_emergency_actions(status, extra, loud):
    blocks = v.incident_card(with_run(status, **extra), now=NOW)
    assert_valid(blocks)
    assert action_ids(blocks) == ["scale_to_zero", "page_escalation", "post_update"]
    scale = elements(blocks)[0]
    assert scale["style"] == "danger" and scale["confirm"]["style"] == "danger"
    assert "DOWN" in scale["confirm"]["text"]["text"]
    text = mrkdwn_text(blocks)
    assert f":rotating_light: *{loud}" in text and "is still unhealthy" in text
    if "error" in extra:
        assert "deadline exceeded" in text
    else:
        assert ":x: *Pods ready* FAILED — 0/3 ready" in text


def test_cancelled_run_goes_back_to_the_decision():
    blocks = v.incident_card(with_run("cancelled"), now=NOW)
    assert action_ids(blocks)[0] == "rollback_previous"
    assert "cancelled; nothing was changed" in mrkdwn_text(blocks)


def test_forward_fix_and_closed_cards():
    forward = v.incident_card(dataclasses.replace(INFO, status="forward_fix"), now=NOW)
    assert_valid(forward)
    assert action_ids(forward) == ["resolve", "post_update", "rollback_previous"]
    for status in ("resolved", "dismissed"):
        closed = v.incident_card(
            dataclasses.replace(INFO, status=status, run=with_run("succeeded").run), now=NOW
        )
        assert_valid(closed)
        assert action_ids(closed) == []
        assert "no more actions" in mrkdwn_text(closed)


def test_user_text_cannot_ping_or_link():
    nasty = "<!channel> & <@U0EVE> <https://evil.example|click>"
    info = dataclasses.replace(
        INFO,
        reason=nasty,
        service="shop<!here>",
        current=dataclasses.replace(V125, change_cause=nasty),
        declared_by="<!everyone>",
        run=v.RunInfo("failed", "U0BOB", (v.Step("Roll back", "failed", nasty),), error=nasty),
    )
    for blocks in (
        v.incident_card(info, now=NOW),
        v.announcement(info),
        v.status_blocks([info]),
        v.error_blocks(nasty, nasty, nasty),
        v.history_blocks(nasty, [info.current], now=NOW),
    ):
        assert_valid(blocks)
        text = mrkdwn_text(blocks)
        for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U0EVE>", "<https://"):
            assert raw not in text
        assert "&lt;!channel&gt; &amp; &lt;@U0EVE&gt;" in text or "&lt;!here&gt;" in text
    assert "<!channel>" not in v.fallback_text(info)


def test_long_text_is_clipped_with_an_ellipsis():
    long_cause = "deploy v9: " + "very long change cause " * 40
    rev = dataclasses.replace(V124, change_cause=long_cause)
    info = dataclasses.replace(INFO, reason="x" * 5000, target=rev, history=(V125, rev), service="s" * 200)
    blocks = v.incident_card(info, now=NOW)
    assert_valid(blocks)
    option = elements(blocks)[1]["options"][0]["text"]["text"]
    assert len(option) <= 75 and option.endswith("…") and option.startswith("rev 2 · v1.2.4 · deploy v9:")
    assert len(blocks[0]["text"]["text"]) == 150


def test_clip_never_cuts_an_escaped_entity():
    escaped = v.escape("a" * 8 + "&&&&")  # "aaaaaaaa&amp;&amp;..."
    for limit in range(9, 20):
        out = v.clip(escaped, limit)
        assert len(out) <= limit and out.endswith("…")
        assert not any(out[:-1].endswith(p) for p in ("&", "&a", "&am", "&amp"))


def test_choose_revision_offers_at_most_100():
    history = tuple(Revision(n, f"img:v{n}", f"deploy {n}") for n in range(1, 151))
    info = dataclasses.replace(INFO, current=history[-1], target=history[-2], history=history)
    blocks = v.incident_card(info, now=NOW)
    assert_valid(blocks)
    options = elements(blocks)[1]["options"]
    assert len(options) == 100 and options[0]["text"]["text"].startswith("rev 149 ")


PLAN = Plan(
    strategy="kubernetes",
    target=Target("shopping-service", "shopping", "shopping-service"),
    current=V125,
    desired=V124,
    changes=("Deployment shopping/shopping-service: image v1.2.5 -> v1.2.4",),
    warnings=("A DB migration ran between rev 2 and rev 3 <check it>",),
    guard="48213",
)


def test_plan_confirmation_previews_and_asks_to_confirm():
    blocks = v.plan_confirmation(PLAN, "U0BOB", require_approval=False, incident_key="INC-2026-001")
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    assert (
        "*Nothing has changed yet.* This will:\n"
        "• Deployment shopping/shopping-service: image v1.2.5 -&gt; v1.2.4" in text
    )
    assert "rev 3 · `v1.2.5` → rev 2 · `v1.2.4`" in text
    assert ":warning: *Before you confirm:*" in text and "&lt;check it&gt;" in text
    assert action_ids(blocks) == ["confirm_rollback", "cancel_rollback"]
    assert v.decode_value(elements(blocks)[0]["value"]) == ("INC-2026-001", 2, "48213")
    assert "Nothing has changed yet" in v.fallback_text(PLAN)


def test_plan_needing_approval_asks_a_second_person():
    blocks = v.plan_confirmation(PLAN, "U0BOB", require_approval=True, incident_key="INC-2026-001")
    assert_valid(blocks)
    assert action_ids(blocks) == ["approve_rollback", "cancel_rollback"]
    assert "someone else must approve" in mrkdwn_text(blocks)


def test_skipped_plan_says_nothing_to_do():
    plan = dataclasses.replace(PLAN, desired=V125, changes=(), skipped="already at revision 3")
    blocks = v.plan_confirmation(plan, "U0BOB", require_approval=False, incident_key="INC-2026-001")
    assert_valid(blocks)
    assert "Nothing to do: already at revision 3" in mrkdwn_text(blocks)
    assert action_ids(blocks) == ["cancel_rollback"]


def test_progress_and_verification():
    assert v.progress_text(Progress("2/3 new replicas available", 3, 3, 2)) == (
        ":hourglass_flowing_sand: 2/3 new replicas available"
    )
    assert v.progress_text(Progress("3/3 available", 3, 3, 3, done=True)).startswith(":white_check_mark:")
    failed = v.verification_blocks(FAILED)
    assert_valid(failed)
    text = mrkdwn_text(failed)
    assert "VERIFICATION FAILED" in text
    assert ":grey_question: *p95 latency* could not be checked — Prometheus unreachable" in text
    unchecked = v.verification_blocks(Verification((Check("Health URL", None, "timeout"),)))
    assert "passed" not in mrkdwn_text(unchecked)  # nothing verified is not a pass


def test_announcement_is_short_and_links_the_channel():
    blocks = v.announcement(INFO)
    assert_valid(blocks)
    assert len(blocks) <= 3
    text = mrkdwn_text(blocks)
    assert "*INC-2026-001 · shopping-service*" in text and "<#C0INC1>" in text and "High" in text
    assert "Rolling back to rev 2" in mrkdwn_text(v.announcement(with_run("running")))


def test_help_lists_every_command():
    blocks = v.help_blocks()
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    for command in (
        "/rollback &lt;service&gt; [reason]",
        "`/rollback`",
        "/rollback status",
        "/rollback history &lt;service&gt;",
        "/rollback resolve",
        "/rollback help",
    ):
        assert command in text
    assert "Add `--data-loss` or `--security-breach` when declaring" in text
    assert "the incident becomes Critical (roll back immediately)" in text


def test_status_lists_open_incidents_within_the_block_limit():
    empty = v.status_blocks([])
    assert_valid(empty)
    assert "No open incidents" in mrkdwn_text(empty)
    many = [dataclasses.replace(INFO, incident_key=f"INC-2026-{n:03}") for n in range(1, 61)]
    blocks = v.status_blocks(many)
    assert_valid(blocks)
    assert blocks[0]["text"]["text"] == "Open incidents (60)"
    assert "…and 12 more" in mrkdwn_text(blocks)
    assert "<#C0INC1>" in mrkdwn_text(blocks) and "lead <@U0BOB>" in mrkdwn_text(blocks)


def test_history_is_newest_first_and_marks_the_live_revision():
    blocks = v.history_blocks("shopping-service", [V123, V125, V124], now=NOW)
    assert_valid(blocks)
    lines = blocks[1]["text"]["text"].splitlines()
    assert lines[0].startswith("rev 3 · `v1.2.5`") and lines[0].endswith("*← live*")
    assert lines[2].startswith("rev 1 ") and "3 days ago" in lines[2]
    assert "No rollout history found" in mrkdwn_text(v.history_blocks("nope", []))


def test_error_blocks_say_what_to_do():
    blocks = v.error_blocks("Unknown service", "`shoping` is not in the catalog.", "Try `/rollback status`.")
    assert_valid(blocks)
    assert "*What you can do:* Try `/rollback status`." in mrkdwn_text(blocks)


def test_fallback_text_is_plain():
    text = v.fallback_text(INFO)
    assert text.startswith("INC-2026-001 · shopping-service (High): ")
    assert ":" + "mag:" not in text and "`" not in text
    assert v.fallback_text(FAILED).startswith("VERIFICATION FAILED")


def validate_modal(modal: dict) -> None:
    View(**modal).validate_json()
    assert len(modal["title"]["text"]) <= 24
    assert_valid(modal["blocks"])


def test_declare_modal_picks_a_service():
    modal = v.declare_modal(["shopping-service", "billing"])
    validate_modal(modal)
    assert modal["callback_id"] == v.CallbackId.DECLARE
    service = modal["blocks"][0]
    assert service["block_id"] == v.DECLARE_SERVICE and service["element"]["type"] == "static_select"
    assert [o["value"] for o in service["element"]["options"]] == ["billing", "shopping-service"]
    typed = v.declare_modal([f"svc-{n}" for n in range(150)])  # too many for a select
    validate_modal(typed)
    assert typed["blocks"][0]["element"]["type"] == "plain_text_input"
    values = {
        "service": {"service": {"type": "static_select", "selected_option": {"value": "billing"}}},
        "reason": {"reason": {"type": "plain_text_input", "value": "  500s  "}},
    }
    assert v.parse_declare(values) == v.DeclareForm("billing", "500s")


def test_declare_modal_lets_a_person_declare_data_loss_or_a_breach():
    modal = v.declare_modal(["billing"])
    validate_modal(modal)
    [box] = [b for b in modal["blocks"] if b.get("block_id") == v.DECLARE_DECLARED]
    assert box["optional"] and box["element"]["type"] == "checkboxes"
    assert [(o["text"]["text"], o["value"]) for o in box["element"]["options"]] == [
        ("Data loss", "data-loss"),
        ("Security breach", "security-breach"),
    ]
    assert "initial_options" not in box["element"] and "Critical" in box["hint"]["text"]
    ticked = v.declare_modal(["billing"], declared=("security-breach",))  # /rollback --security-breach
    validate_modal(ticked)
    [box] = [b for b in ticked["blocks"] if b.get("block_id") == v.DECLARE_DECLARED]
    assert [o["value"] for o in box["element"]["initial_options"]] == ["security-breach"]
    values = {
        "service": {"service": {"type": "static_select", "selected_option": {"value": "billing"}}},
        "declared": {
            "declared": {
                "type": "checkboxes",
                "selected_options": [{"value": "security-breach"}, {"value": "bogus"}, {"value": "data-loss"}],
            }
        },
    }
    assert v.parse_declare(values) == v.DeclareForm("billing", "", ("data-loss", "security-breach"))
    none_ticked = {**values, "declared": {"declared": {"type": "checkboxes", "selected_options": []}}}
    assert v.parse_declare(none_ticked).declared == ()


def test_resolve_modal_has_stable_block_ids():
    modal = v.resolve_modal("INC-2026-001")
    validate_modal(modal)
    assert modal["callback_id"] == "resolve" and modal["private_metadata"] == "INC-2026-001"
    ids = {b.get("block_id"): b for b in modal["blocks"]}
    assert ids["root_cause"]["element"]["multiline"] and ids["lessons"]["element"]["multiline"]
    for n in (1, 2, 3):
        assert ids[f"action_{n}_text"]["element"]["type"] == "plain_text_input"
        assert ids[f"action_{n}_owner"]["element"]["type"] == "users_select"
        assert ids[f"action_{n}_due"]["element"]["type"] == "datepicker"


def test_parse_resolve_reads_items_and_flags_half_filled_ones():
    def text(value):
        return {"type": "plain_text_input", "value": value}

    values = {
        "root_cause": {"root_cause": text("new payment client timed out")},
        "impact": {"impact": text("checkout failed for 20 min")},
        "lessons": {"lessons": text(None)},
        "action_1_text": {"action_1_text": text("alert on p95")},
        "action_1_owner": {"action_1_owner": {"type": "users_select", "selected_user": "U0CAROL"}},
        "action_1_due": {"action_1_due": {"type": "datepicker", "selected_date": "2026-12-01"}},
        "action_2_owner": {"action_2_owner": {"type": "users_select", "selected_user": "U0DAN"}},
    }
    form = v.parse_resolve(values)
    assert form.root_cause == "new payment client timed out" and form.lessons == ""
    assert form.action_items == (v.ActionItemForm("alert on p95", "U0CAROL", dt.date(2026, 12, 1)),)
    assert set(form.errors) == {"action_2_text"}


def test_status_update_modal_and_parse():
    modal = v.status_update_modal("INC-2026-001", status="Mitigated")
    validate_modal(modal)
    assert modal["callback_id"] == "status_update" and modal["private_metadata"] == "INC-2026-001"
    assert modal["blocks"][0]["element"]["initial_option"]["value"] == "Mitigated"
    values = {
        "status": {"status": {"type": "static_select", "selected_option": {"value": "Monitoring"}}},
        "summary": {"summary": {"type": "plain_text_input", "value": "errors back to 0.6%"}},
        "next_update_minutes": {
            "next_update_minutes": {"type": "static_select", "selected_option": {"value": "30"}}
        },
    }
    assert v.parse_status_update(values) == v.StatusUpdateForm("Monitoring", "errors back to 0.6%", "", 30)


def test_status_update_blocks_split_long_text():
    blocks = v.status_update_blocks("x" * 7000)
    assert_valid(blocks)
    assert len(blocks) == 3


def test_a_decided_plan_keeps_its_facts_and_loses_its_buttons():
    blocks = v.plan_decided(PLAN, "U0ALICE", "INC-2026-001", "Confirmed by <@U0ALICE>: rolling back now.")
    assert_valid(blocks)
    assert not [b for b in blocks if b["type"] == "actions"]
    text = json.dumps(blocks)
    assert "Confirmed by <@U0ALICE>" in text and "v1.2.4" in text
