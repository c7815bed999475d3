"""The incident card and `/rollback status`: the facts, and only the actions the state allows."""

from __future__ import annotations

import dataclasses

from bot.slack import views as v
from bot.strategies.base import Revision
from tests.slack.views.support import INFO, NOW, PASSED, V125, action_ids, assert_valid, elements, mrkdwn_text, with_run


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
    # the value names the run the card shows (0: none yet), so a click after a later run is refused
    assert rollback["style"] == "primary" and v.decode_value(rollback["value"]) == ("INC-2026-001", 2, 0)
    assert [o["text"]["text"] for o in select["options"]] == [
        "rev 2 · v1.2.4 · deploy v1.2.4: faster cart totals",
        "rev 1 · v1.2.3 · deploy v1.2.3: checkout redesign",
    ]  # the live revision is not offered
    assert v.decode_value(select["options"][1]["value"]) == ("INC-2026-001", 1, 0)
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
    blocks = v.incident_card(with_run("verified", verification=PASSED), now=NOW)
    assert_valid(blocks)
    assert action_ids(blocks) == ["resolve", "post_update"]
    text = mrkdwn_text(blocks)
    assert "Rolled back to rev 2 · `v1.2.4`" in text and "Verification passed" in text
    assert "click *Resolve*" in text


def test_cancelled_or_expired_run_goes_back_to_the_decision():
    blocks = v.incident_card(with_run("cancelled"), now=NOW)
    assert action_ids(blocks)[0] == "rollback_previous"
    assert "cancelled: nothing was changed" in mrkdwn_text(blocks)
    expired = v.incident_card(with_run("expired", error="no worker started it within 10 minutes"), now=NOW)
    assert action_ids(expired)[0] == "rollback_previous"
    assert "expired: no worker started it within 10 minutes" in mrkdwn_text(expired)


def test_forward_fix_and_closed_cards():
    forward = v.incident_card(dataclasses.replace(INFO, status="forward_fix"), now=NOW)
    assert_valid(forward)
    assert action_ids(forward) == ["resolve", "post_update", "rollback_previous"]
    for status in ("resolved", "dismissed"):
        closed = v.incident_card(
            dataclasses.replace(INFO, status=status, run=with_run("verified").run), now=NOW
        )
        assert_valid(closed)
        assert action_ids(closed) == []
        assert "no more actions" in mrkdwn_text(closed)


def test_choose_revision_offers_at_most_100():
    history = tuple(Revision(n, f"img:v{n}", f"deploy {n}") for n in range(1, 151))
    info = dataclasses.replace(INFO, current=history[-1], target=history[-2], history=history)
    blocks = v.incident_card(info, now=NOW)
    assert_valid(blocks)
    options = elements(blocks)[1]["options"]
    assert len(options) == 100 and options[0]["text"]["text"].startswith("rev 149 ")


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


def test_the_card_shows_the_automatic_rollback_countdown_with_its_hold():
    info = dataclasses.replace(INFO, countdown=v.Countdown(9, "v1.2.4 (revision 2)", 120))
    blocks = v.incident_card(info, now=NOW)
    assert_valid(blocks)
    assert "Rolling back to v1.2.4 (revision 2) in 2:00 unless someone clicks *Hold*" in mrkdwn_text(blocks)
    assert action_ids(blocks)[0] == "hold_auto_rollback"
    assert "hold_auto_rollback" not in action_ids(v.incident_card(INFO, now=NOW))


def test_the_card_says_what_the_status_page_says_and_offers_to_set_it():
    page = v.StatusPageInfo("degraded_performance", "", "bot")
    blocks = v.incident_card(dataclasses.replace(INFO, status_page=page), now=NOW)
    assert_valid(blocks)
    assert "*Status page:* Degraded performance" in mrkdwn_text(blocks)
    assert "set_status_page" in action_ids(blocks)
    select = next(e for e in elements(blocks) if e.get("action_id") == "set_status_page")
    assert [o["value"] for o in select["options"]] == [f"{INFO.incident_key}|{i}" for i in range(4)]
    failed = v.StatusPageInfo("major_outage", "the status page answered HTTP 503", "U0CAROL")
    text = mrkdwn_text(v.incident_card(dataclasses.replace(INFO, status_page=failed), now=NOW))
    assert "Major outage (set by <@U0CAROL>)" in text and "The last change failed: the status page answered" in text
    assert "Status page" not in mrkdwn_text(v.incident_card(INFO, now=NOW)), "no component: no line"
