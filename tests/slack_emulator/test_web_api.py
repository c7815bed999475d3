"""The emulator's Web API, driven over HTTP with the real slack_sdk WebClient."""

from __future__ import annotations

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.sandbox.slack import SlackEmulator

from .conftest import TOKEN


def error_of(call, *args, **kwargs) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Inc-Shop", "invalid_name_specials"),
        ("inc shop", "invalid_name_specials"),
        ("inc.shop", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("", "invalid_name_required"),
        ("incidents", "name_taken"),
    ],
)
def test_channel_names_follow_slack_rules(client: WebClient, name: str, error: str):
    assert error_of(client.conversations_create, name=name).response["error"] == error


def test_created_channel_is_joined_and_listed_and_its_name_is_then_taken(client: WebClient):
    name = "inc-20250101-" + "s" * 67  # exactly 80 characters
    channel = client.conversations_create(name=name)["channel"]
    assert channel["name"] == name and channel["is_member"]
    assert name in [c["name"] for c in client.conversations_list()["channels"]]
    assert error_of(client.conversations_create, name=name).response["error"] == "name_taken"


def test_posting_needs_membership_of_a_channel_the_bot_did_not_create(client, emulator: SlackEmulator):
    general = emulator.channel_by_name("general")["id"]
    assert error_of(client.chat_postMessage, channel=general, text="hi").response["error"] == "not_in_channel"
    assert (
        error_of(client.chat_postMessage, channel="C404", text="hi").response["error"] == "channel_not_found"
    )
    client.conversations_join(channel=general)
    client.chat_postMessage(channel=general, text="hi")
    assert [m["text"] for m in emulator.messages(general)] == ["hi"]


def test_message_content_rules(client: WebClient, emulator: SlackEmulator):
    incidents = emulator.channel_by_name("incidents")["id"]
    assert error_of(client.chat_postMessage, channel=incidents).response["error"] == "no_text"
    too_long = error_of(client.chat_postMessage, channel=incidents, text="x" * 40001)
    assert too_long.response["error"] == "msg_too_long"
    client.chat_postMessage(channel=incidents, text="x" * 40000)


@pytest.mark.parametrize(
    ("block", "pointer"),
    [
        ({"type": "sektion", "text": {"type": "mrkdwn", "text": "x"}}, "/blocks/0/type"),
        ({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}, "/blocks/0"),
        ({"type": "section", "text": "plain string"}, "/blocks/0/text"),
        ({"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}, "/blocks/0"),
        (
            {
                "type": "actions",
                "elements": [{"type": "button", "action_id": "a", "text": {"type": "mrkdwn", "text": "Go"}}],
            },
            "/blocks/0/elements/0/text",
        ),
    ],
)
def test_a_bad_block_is_refused_with_slacks_explanation(client, emulator: SlackEmulator, block, pointer):
    incidents = emulator.channel_by_name("incidents")["id"]
    response = error_of(client.chat_postMessage, channel=incidents, text="t", blocks=[block]).response
    assert response["error"] == "invalid_blocks"
    [message] = response["response_metadata"]["messages"]
    assert message.startswith("[ERROR] ") and f"[json-pointer:{pointer}]" in message
    assert emulator.messages(incidents) == []


def test_fifty_blocks_pass_and_fifty_one_do_not(client, emulator: SlackEmulator):
    incidents = emulator.channel_by_name("incidents")["id"]
    client.chat_postMessage(channel=incidents, text="t", blocks=[{"type": "divider"}] * 50)
    response = error_of(
        client.chat_postMessage, channel=incidents, text="t", blocks=[{"type": "divider"}] * 51
    ).response
    assert response["error"] == "invalid_blocks"
    assert response["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]


def test_action_ids_must_be_unique_in_a_message(client, emulator: SlackEmulator):
    button = {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
    blocks = [{"type": "actions", "elements": [button]}, {"type": "actions", "elements": [button]}]
    channel = emulator.channel_by_name("incidents")["id"]
    response = error_of(client.chat_postMessage, channel=channel, text="t", blocks=blocks).response
    assert "action_id 'go'" in response["response_metadata"]["messages"][0]


def test_edits_show_in_the_transcript_and_keep_history(client, emulator: SlackEmulator):
    incidents = emulator.channel_by_name("incidents")["id"]
    ts = client.chat_postMessage(channel=incidents, text="card", blocks=[section("Rolling back *shop*")])[
        "ts"
    ]
    client.chat_postMessage(channel=incidents, text="Someone is on it")
    client.chat_update(
        channel=incidents,
        ts=ts,
        text="done",
        blocks=[
            section("Rolled back *shop*"),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "by alice"}]},
        ],
    )
    lines = emulator.transcript(incidents).splitlines()
    assert lines[1].endswith("rollback-bot: Rolled back *shop* (edited)")
    assert lines[2].strip() == "by alice"
    assert lines[3].endswith("rollback-bot: Someone is on it")
    [card, _] = emulator.messages(incidents)
    assert card["previous"][0]["blocks"][0]["text"]["text"] == "Rolling back *shop*"
    assert card["edited"]["user"] == emulator.bot_user_id
    assert (
        error_of(client.chat_update, channel=incidents, ts="1.000001", text="x").response["error"]
        == "message_not_found"
    )


def test_only_the_bots_own_messages_can_be_updated(client, emulator: SlackEmulator):
    ts = emulator.post_as("U_ONCALL", "#incidents", "help")["ts"]
    response = error_of(client.chat_update, channel="#incidents", ts=ts, text="edited").response
    assert response["error"] == "cant_update_message"


def test_invite_rules(client, emulator: SlackEmulator):
    channel = client.conversations_create(name="inc-invite")["channel"]["id"]
    client.conversations_invite(channel=channel, users="U_ONCALL,U_OWNER")
    assert set(emulator.channel_by_name("inc-invite")["members"]) == {"U_BOT", "U_ONCALL", "U_OWNER"}
    for users, error in [
        ("U_ONCALL", "already_in_channel"),
        ("U_NOBODY", "user_not_found"),
        ("U_BOT", "cant_invite_self"),
    ]:
        assert error_of(client.conversations_invite, channel=channel, users=users).response["error"] == error


def test_topic_pins_reactions_bookmarks(client, emulator: SlackEmulator):
    channel = client.conversations_create(name="inc-card")["channel"]["id"]
    assert (
        error_of(client.conversations_setTopic, channel=channel, topic="x" * 251).response["error"]
        == "too_long"
    )
    client.conversations_setTopic(channel=channel, topic="INC-1 · shop · SEV High")
    ts = client.chat_postMessage(channel=channel, text="card")["ts"]
    client.pins_add(channel=channel, timestamp=ts)
    assert error_of(client.pins_add, channel=channel, timestamp=ts).response["error"] == "already_pinned"
    client.reactions_add(channel=channel, timestamp=ts, name="eyes")
    assert (
        error_of(client.reactions_add, channel=channel, timestamp=ts, name="eyes").response["error"]
        == "already_reacted"
    )
    client.bookmarks_add(
        channel_id=channel, title="Runbook", type="link", link="https://runbooks.example/shop"
    )
    info = emulator.channel_by_name("inc-card")
    assert info["topic"]["value"] == "INC-1 · shop · SEV High"
    assert info["pins"] == [ts] and info["bookmarks"][0]["title"] == "Runbook"
    assert emulator.transcript(channel).splitlines()[1].endswith("rollback-bot: card (pinned)")


def test_users_info(client: WebClient):
    alice = client.users_info(user="U_ONCALL")["user"]
    assert (alice["name"], alice["tz"]) == ("alice", "Europe/London")
    assert error_of(client.users_info, user="U_NOBODY").response["error"] == "user_not_found"


def test_auth_and_unknown_methods_over_form_posts(emulator: SlackEmulator):
    bad = WebClient(base_url=emulator.api_url, token="xoxb-wrong")
    assert error_of(bad.auth_test).response["error"] == "invalid_auth"
    answer = requests.post(emulator.api_url + "auth.test", data={"token": TOKEN}, timeout=5)
    assert answer.status_code == 200 and answer.json()["user_id"] == "U_BOT"
    answer = requests.post(emulator.api_url + "nope.never", data={"token": TOKEN}, timeout=5)
    assert answer.status_code == 200 and answer.json() == {
        "ok": False,
        "error": "unknown_method",
        "req_method": "nope.never",
    }


def test_rate_limit_answers_429_with_retry_after(client, emulator: SlackEmulator):
    incidents = emulator.channel_by_name("incidents")["id"]
    emulator.set_rate_limit("chat.postMessage", 2)
    client.chat_postMessage(channel=incidents, text="1")
    client.chat_postMessage(channel=incidents, text="2")
    limited = error_of(client.chat_postMessage, channel=incidents, text="3").response
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited["error"] == "ratelimited"

    patient = WebClient(base_url=emulator.api_url, token=TOKEN, retry_handlers=[RateLimitErrorRetryHandler()])
    patient.chat_postMessage(channel=incidents, text="3")
    assert [m["text"] for m in emulator.messages(incidents)] == ["1", "2", "3"]
    assert [c["status"] for c in emulator.calls("chat.postMessage")] == [200, 200, 429, 429, 200]


def test_fail_next_injects_errors_once(client, emulator: SlackEmulator):
    incidents = emulator.channel_by_name("incidents")["id"]
    ts = client.chat_postMessage(channel=incidents, text="card")["ts"]
    emulator.fail_next("chat.update", "ratelimited")
    emulator.fail_next("chat.update", 500)
    emulator.fail_next("chat.update", "internal_error")
    assert error_of(client.chat_update, channel=incidents, ts=ts, text="x").response.status_code == 429
    assert error_of(client.chat_update, channel=incidents, ts=ts, text="x").response.status_code == 500
    assert (
        error_of(client.chat_update, channel=incidents, ts=ts, text="x").response["error"] == "internal_error"
    )
    client.chat_update(channel=incidents, ts=ts, text="updated")
    assert emulator.messages(incidents)[0]["text"] == "updated"


def test_file_upload_lands_in_the_channel_with_its_content(client, emulator: SlackEmulator):
    channel = client.conversations_create(name="inc-report")["channel"]["id"]
    report = "# Postmortem INC-1\n\nRolled back shop to v1.2.3.\n"
    client.files_upload_v2(
        channel=channel,
        content=report,
        filename="postmortem.md",
        title="Postmortem INC-1",
        initial_comment="The postmortem is ready",
    )
    [stored] = emulator.files(channel)
    assert stored["content"] == report.encode() and stored["title"] == "Postmortem INC-1"
    [message] = emulator.messages(channel)
    assert message["text"] == "The postmortem is ready" and message["files"][0]["name"] == "postmortem.md"
    assert "[file: postmortem.md — Postmortem INC-1]" in emulator.transcript(channel)


def test_history_is_newest_first_and_pages(client, emulator: SlackEmulator):
    incidents = emulator.channel_by_name("incidents")["id"]
    for n in range(3):
        client.chat_postMessage(channel=incidents, text=str(n))
    first = client.conversations_history(channel=incidents, limit=2)
    assert [m["text"] for m in first["messages"]] == ["2", "1"] and first["has_more"]
    rest = client.conversations_history(
        channel=incidents, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["0"]


def test_start_serves_the_api_and_stop_ends_it():
    emu = SlackEmulator()
    base = emu.start()
    try:
        assert emu.api_url == base + "/api/"
        assert WebClient(base_url=emu.api_url, token="xoxb-sandbox").auth_test()["team_id"] == emu.team_id
    finally:
        emu.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(base + "/api/auth.test", timeout=2)


def test_response_url_replaces_deletes_and_posts_in_channel(client, emulator: SlackEmulator):
    from slack_sdk.webhook import WebhookClient

    ts = client.chat_postMessage(channel="#incidents", text="Roll back shop?")["ts"]
    hook = WebhookClient(emulator.issue_response_url("U_ONCALL", "#incidents", message_ts=ts))
    assert hook.send(text="Rolling back shop…", replace_original=True).status_code == 200
    assert emulator.messages("#incidents")[0]["text"] == "Rolling back shop…"
    assert hook.send(text="Done", response_type="in_channel").status_code == 200
    assert hook.send(text="Only you can see this").status_code == 200
    assert [e["text"] for e in emulator.ephemerals("U_ONCALL")] == ["Only you can see this"]
    assert hook.send(blocks=[{"type": "sektion"}]).status_code == 400
    assert hook.send(delete_original=True).status_code == 200
    assert [m["text"] for m in emulator.messages("#incidents")] == ["Done"]
    assert hook.send(text="sixth").body == '{"ok": false, "error": "used_url"}'
    assert len(emulator.responses()) == 5


def test_conversations_members_pages_with_slacks_cursor_and_errors(client, emulator: SlackEmulator):
    people = [f"U{n:04d}" for n in range(7)]
    channel = emulator.add_channel("inc-members", members=["U_BOT", *people], is_private=True)["id"]
    seen, cursor = [], None
    while True:
        page = client.conversations_members(channel=channel, limit=3, cursor=cursor)
        assert len(page["members"]) <= 3
        seen += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(["U_BOT", *people]) and len(seen) == len(set(seen))
    assert error_of(client.conversations_members, channel=channel, cursor="bm90LWEtY3Vyc29y").response[
        "error"
    ] == "invalid_cursor"
    assert error_of(client.conversations_members, channel=channel, limit=0).response["error"] == "invalid_limit"
    hidden = emulator.add_channel("inc-hidden", creator="U_OWNER", is_private=True)["id"]  # the bot is not in it
    assert error_of(client.conversations_members, channel=hidden).response["error"] == "channel_not_found"
    assert error_of(client.conversations_members, channel="C_NOPE").response["error"] == "channel_not_found"
