"""The gateway never posts twice or leaves an orphan channel when Slack's answer is lost."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from bot.sandbox.slack import SlackEmulator
from bot.slack.gateway import SlackFailure, SlackGateway, make_client
from tests.slack_emulator.conftest import TOKEN


def gateway(emulator: SlackEmulator) -> SlackGateway:
    return SlackGateway(make_client(TOKEN, emulator.api_url), sleep=lambda _: None)


def bot_messages(emulator: SlackEmulator, channel: str) -> list[dict]:
    return [m for m in emulator.messages(channel) if m.get("user") == emulator.bot_user_id]


def test_a_lost_answer_to_a_post_leaves_exactly_one_message(emulator):
    slack = gateway(emulator)
    channel = slack.create_channel("inc-lost-post")
    emulator.fail_next("chat.postMessage", 500, after=True)  # posted, but the answer is an error
    ts = slack.post(channel.id, "The rollback is verified")
    assert [m["ts"] for m in bot_messages(emulator, channel.id)] == [ts]
    assert len(emulator.calls("chat.postMessage")) == 1, "found by its tag, not posted again"


def test_a_post_refused_before_it_was_made_is_posted_once_on_retry(emulator):
    slack = gateway(emulator)
    channel = slack.create_channel("inc-refused-post")
    emulator.fail_next("chat.postMessage", 500)  # nothing posted
    ts = slack.post(channel.id, "The rollback is verified")
    assert [m["ts"] for m in bot_messages(emulator, channel.id)] == [ts]
    assert len(emulator.calls("chat.postMessage")) == 2


def test_a_lost_answer_to_create_channel_leaves_one_channel_which_is_returned(emulator):
    slack = gateway(emulator)
    before = set(emulator.channels)
    emulator.fail_next("conversations.create", 500, after=True)
    channel = slack.create_channel("inc-20261122-shopping-service")
    created = [emulator.channels[c] for c in set(emulator.channels) - before]
    assert [(c.id, c.name) for c in created] == [(channel.id, "inc-20261122-shopping-service")]


def test_rate_limits_are_still_waited_out_for_posts(emulator):
    slack = gateway(emulator)
    channel = slack.create_channel("inc-rate")
    emulator.fail_next("chat.postMessage", "ratelimited")
    slack.post(channel.id, "hello")
    assert len(bot_messages(emulator, channel.id)) == 1


def test_is_member_reads_every_page_and_cannot_answer_for_a_channel_the_bot_is_not_in(emulator):
    slack = gateway(emulator)
    people = [f"U{n:04d}" for n in range(450)]  # three pages of 200
    channel = emulator.add_channel("inc-big", members=["U_BOT", *people], is_private=True)["id"]
    assert slack.is_member(channel, "U0449") and slack.is_member(channel, "U0000")
    assert not slack.is_member(channel, "U_VIEWER")
    assert len(emulator.calls("conversations.members")) == 1 + 3 + 3  # U0000 is on the first page
    hidden = emulator.add_channel("inc-hidden", creator="U_OWNER", is_private=True)["id"]
    with pytest.raises(SlackFailure) as refused:
        slack.is_member(hidden, "U_OWNER")
    assert refused.value.error == "channel_not_found"


def test_a_private_answer_goes_through_the_response_url_and_a_used_up_one_is_a_failure(emulator):
    slack = gateway(emulator)
    url = emulator.issue_response_url("U_ONCALL", "C1")
    for n in range(5):  # Slack takes five posts per response_url, on one kept-alive connection here
        slack.respond(url, f"answer {n}", [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{n}*"}}])
    shown = emulator.ephemerals("U_ONCALL")
    assert [e["text"] for e in shown] == [f"answer {n}" for n in range(5)]
    assert all(r["response_type"] == "ephemeral" and r["replace_original"] is False for r in emulator.responses())
    with pytest.raises(SlackFailure, match="response_url.*HTTP 404"):
        slack.respond(url, "a sixth")
    slack.close()


def _errors(kind: str) -> float:
    return REGISTRY.get_sample_value("rollback_bot_call_errors_total", {"system": "slack", "kind": kind}) or 0.0


def test_each_refused_call_is_counted_by_slack_error_on_the_bots_metrics(emulator):
    gw = gateway(emulator)
    channel = gw.create_channel("inc-counted")
    before = _errors("not_authed")
    emulator.fail_next("conversations.setTopic", "not_authed")
    with pytest.raises(SlackFailure):
        gw.set_topic(channel.id, "topic")
    assert _errors("not_authed") - before == 1
