"""The dry-run plan: what will change, Confirm / Cancel / Approve, and who decided."""

from __future__ import annotations

import dataclasses
import json

from bot.providers.kubernetes.locator import k8s_target
from bot.slack import views as v
from bot.strategies.base import Plan
from tests.slack.views.support import V124, V125, action_ids, assert_valid, elements, mrkdwn_text

PLAN = Plan(
    strategy="kubernetes",
    target=k8s_target("shopping-service", "shopping", "shopping-service"),
    current=V125,
    desired=V124,
    changes=("Deployment shopping/shopping-service: image v1.2.5 -> v1.2.4",),
    warnings=("A DB migration ran between rev 2 and rev 3 <check it>",),
    guard="48213",
)


def test_plan_confirmation_previews_and_asks_to_confirm():
    blocks = v.plan_confirmation(PLAN, "U0BOB", require_approval=False, incident_key="INC-2026-001", plan_id=7)
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    assert (
        "*Nothing has changed yet.* This will:\n"
        "• Deployment shopping/shopping-service: image v1.2.5 -&gt; v1.2.4" in text
    )
    assert "rev 3 · `v1.2.5` → rev 2 · `v1.2.4`" in text
    assert ":warning: *Before you confirm:*" in text and "&lt;check it&gt;" in text
    assert action_ids(blocks) == ["confirm_rollback", "cancel_rollback"]
    # Both buttons name the plan, so a click decides exactly this plan, never a newer one.
    assert v.decode_value(elements(blocks)[0]["value"]) == ("INC-2026-001", 2, 7)
    assert v.decode_value(elements(blocks)[1]["value"]).plan_id == 7
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


def test_a_decided_plan_keeps_its_facts_and_loses_its_buttons():
    blocks = v.plan_decided(PLAN, "U0ALICE", "INC-2026-001", "Confirmed by <@U0ALICE>: rolling back now.")
    assert_valid(blocks)
    assert not [b for b in blocks if b["type"] == "actions"]
    text = json.dumps(blocks)
    assert "Confirmed by <@U0ALICE>" in text and "v1.2.4" in text



def test_an_undo_that_changes_env_too_offers_revert_env_only():
    plan = dataclasses.replace(PLAN, env_only_offer=True)
    blocks = v.plan_confirmation(plan, "U0BOB", require_approval=False, incident_key="INC-2026-001", plan_id=7)
    assert_valid(blocks)
    assert action_ids(blocks) == ["confirm_rollback", "cancel_rollback", "revert_env_only"]
    assert v.decode_value(elements(blocks)[2]["value"]) == ("INC-2026-001", 2, None)
    assert "*Revert env only*: keep `v1.2.5` and restore only the env of rev 2" in mrkdwn_text(blocks)
    assert "revert_env_only" not in action_ids(v.plan_confirmation(PLAN, "U0BOB", False, "INC-2026-001"))


def test_an_env_only_plan_says_the_image_is_kept():
    plan = dataclasses.replace(
        PLAN,
        target=k8s_target("shopping-service", "shopping", "shopping-service", env_only=True),
        desired=dataclasses.replace(V124, image=V125.image),
        changes=('env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"', "image app stays v1.2.5"),
        warnings=(),
    )
    blocks = v.plan_confirmation(plan, "U0BOB", require_approval=False, incident_key="INC-2026-001", plan_id=8)
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    assert "rev 3 · `v1.2.5` → the env of rev 2, image `v1.2.5` kept" in text
    assert '• env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"' in text and "Nothing has changed yet" in text
    assert action_ids(blocks) == ["confirm_rollback", "cancel_rollback"]
