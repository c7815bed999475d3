"""A failed or unverifiable rollback: loud, never shown as healthy, never a dead end."""

from __future__ import annotations

import dataclasses

import pytest

from bot.slack import views as v
from bot.strategies.base import Check, Verification
from tests.slack.views.support import FAILED, NOW, UNKNOWN, action_ids, assert_valid, elements, mrkdwn_text, with_run


@pytest.mark.parametrize(
    ("status", "extra", "loud"),
    [
        ("verification_failed", {"verification": FAILED}, "The rollback finished but verification FAILED"),
        ("failed", {"error": "deadline exceeded: 1/3 replicas available"}, "The rollback FAILED"),
    ],
)
def test_failed_card_is_loud_and_offers_emergency_actions(status, extra, loud):
    blocks = v.incident_card(with_run(status, **extra), now=NOW)
    assert_valid(blocks)
    # Not a dead end: another revision can be chosen, and every hint names a button that is shown.
    assert action_ids(blocks) == ["choose_revision", "scale_to_zero", "page_escalation", "post_update"]
    assert elements(blocks)[0]["placeholder"]["text"] == "Choose another revision…"
    hints = mrkdwn_text(blocks).split("*What you can do now:*")[1]
    for button in ("*Choose another revision…*", "*Scale to zero*", "*Page escalation*"):
        assert button in hints
    scale = elements(blocks)[1]
    assert scale["style"] == "danger" and scale["confirm"]["style"] == "danger"
    assert "DOWN" in scale["confirm"]["text"]["text"]
    text = mrkdwn_text(blocks)
    assert f":rotating_light: *{loud}" in text and "is still unhealthy" in text
    if "error" in extra:
        assert "deadline exceeded" in text
    else:
        assert ":x: *Pods ready* FAILED — 0/3 ready" in text


def test_a_rollback_that_could_not_be_verified_is_never_shown_as_healthy():
    blocks = v.incident_card(with_run("could_not_verify", verification=UNKNOWN), now=NOW)
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    assert "could NOT verify" in text and "Verification passed" not in text
    assert "kubectl rollout status deployment/shopping-service -n shopping" in text
    assert action_ids(blocks) == ["resolve", "choose_revision", "post_update"]


def test_the_check_by_hand_is_the_strategys_own_and_absent_when_it_names_none():
    info = dataclasses.replace(with_run("could_not_verify", verification=UNKNOWN), check_by_hand="", namespace="")
    text = mrkdwn_text(v.incident_card(info, now=NOW))
    assert "kubectl" not in text and "namespace `" not in text
    assert "*Check by hand:* the service's 5xx rate and p95 latency on your dashboards, and its health URL." in text


def test_progress_and_verification():
    failed = v.verification_blocks(FAILED)
    assert_valid(failed)
    text = mrkdwn_text(failed)
    assert "VERIFICATION FAILED" in text
    assert ":grey_question: *p95 latency* could not be checked — Prometheus unreachable" in text
    unchecked = v.verification_blocks(Verification((Check("Health URL", None, "timeout"),)))
    assert "passed" not in mrkdwn_text(unchecked)  # nothing verified is not a pass



@pytest.mark.parametrize(
    ("strategy", "ids", "buttons"),
    [
        (
            "blue-green",
            ["choose_revision", "scale_to_zero", "page_escalation", "post_update"],
            ("*Switch to another colour…*", "*Scale live colour to zero*", "*Page escalation*"),
        ),
        ("canary", ["scale_to_zero", "page_escalation", "post_update"], ("*All traffic to stable now*",)),
        (
            "config",
            ["choose_revision", "scale_to_zero", "page_escalation", "post_update"],
            ("*Restore another version…*", "*Scale to zero*", "*Page escalation*"),
        ),
    ],
)
def test_each_strategy_offers_its_own_emergency_actions(strategy, ids, buttons):
    blocks = v.incident_card(with_run("verification_failed", verification=FAILED, strategy=strategy), now=NOW)
    assert_valid(blocks)
    assert action_ids(blocks) == ids
    hints = mrkdwn_text(blocks).split("*What you can do now:*")[1]
    for button in buttons:
        assert button in hints
    if strategy == "canary":  # stepping the canary up again is a release: no select, and no hint of one
        assert "revision" not in hints and "colour" not in hints


@pytest.mark.parametrize(
    ("controls", "ids"),
    [(("hold", "zero"), ["hold_step_down", "go_to_zero"]), (("resume", "zero"), ["resume_step_down", "go_to_zero"])],
)
def test_a_canary_step_down_can_be_held_or_sent_to_zero_from_the_card(controls, ids):
    blocks = v.incident_card(with_run("running", strategy="canary", run_id=7, controls=controls), now=NOW)
    assert_valid(blocks)
    assert action_ids(blocks) == ids
    assert all(e["value"] == "INC-2026-001||7" for e in elements(blocks))
    assert "*Hold* stays at this weight; *Go to 0 now* sends all traffic to the stable release" in mrkdwn_text(blocks)


def test_the_emergency_actions_name_the_run_they_were_posted_for():
    """So a click on this card after a later run is refused (``bot.incidents.common.same_run``)."""
    blocks = v.incident_card(with_run("failed", run_id=7, error="deadline exceeded"), now=NOW)
    select, scale, page, _ = elements(blocks)
    assert {v.decode_value(o["value"]).plan_id for o in select["options"]} == {7}
    assert v.decode_value(scale["value"]) == ("INC-2026-001", None, 7)
    assert v.decode_value(page["value"]) == ("INC-2026-001", None, 7)
