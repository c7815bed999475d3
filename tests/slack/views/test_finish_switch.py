"""A blue-green switch cut short: the failure card offers *Finish the switch*, and only then."""

from __future__ import annotations

import dataclasses

import pytest

from bot.providers.kubernetes.locator import k8s_target
from bot.slack import views as v
from bot.strategies.base import Plan, Revision
from tests.slack.views.support import INFO, NOW, action_ids, assert_valid, elements, mrkdwn_text

BLUE = Revision(1, "registry.local/storefront:v2.0.1", label="blue", name="storefront-blue")


def failed_run(strategy: str, switch: str) -> v.CardInfo:
    steps = (v.Step("Pre-checks", "done"), v.Step("Prepare", "done"), v.Step("Switch traffic", switch))
    error = "the route patch failed"
    run = v.RunInfo("failed", "U0BOB", steps, to_revision=BLUE, error=error, strategy=strategy, run_id=7)
    return dataclasses.replace(INFO, run=run)


def test_a_switch_that_failed_half_way_offers_to_finish_it():
    blocks = v.incident_card(failed_run("blue-green", "failed"), now=NOW)
    assert_valid(blocks)
    assert action_ids(blocks)[:2] == ["finish_switch", "choose_revision"]
    finish = elements(blocks)[0]
    assert finish["text"]["text"] == "Finish the switch to blue" and finish["value"] == "INC-2026-001|1|7"  # its run
    hints = mrkdwn_text(blocks).split("*What you can do now:*")[1]
    assert hints.startswith(" *Finish the switch to blue* (a fresh plan of what is left to switch; you see it first)")


@pytest.mark.parametrize(("strategy", "switch"), [("blue-green", "done"), ("kubernetes", "failed")])
def test_no_finish_button_for_other_failures(strategy, switch):
    blocks = v.incident_card(failed_run(strategy, switch), now=NOW)
    assert "finish_switch" not in action_ids(blocks) and "Finish the switch" not in mrkdwn_text(blocks)


def test_a_plan_that_finishes_a_half_done_switch_offers_the_other_colour_too():
    green = Revision(2, "registry.local/storefront:v2.1.0", label="green", name="storefront-green")
    plan = Plan(
        "blue-green",
        k8s_target("storefront", "storefront", "storefront", to_revision=1),
        current=green,
        desired=BLUE,
        changes=("switch VirtualService storefront route subset: green → blue",),
        summary="finishing the switch of storefront to blue",
        half_done=True,
    )
    blocks = v.plan_confirmation(plan, "U0BOB", False, "INC-2026-001", 9, after_run=4)
    assert_valid(blocks)
    assert action_ids(blocks) == ["confirm_rollback", "cancel_rollback", "finish_switch"]
    other = elements(blocks)[2]
    assert other["text"]["text"] == "Finish the switch to green instead" and other["value"] == "INC-2026-001|2|4"
    whole = v.plan_confirmation(dataclasses.replace(plan, half_done=False), "U0BOB", False, "K")
    assert "finish_switch" not in action_ids(whole)
