"""The driver against a tiny real Bolt app: signed commands, clicks, modals, events, forged requests."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.slack import SlackDriver, SlackEmulator

from .conftest import MODAL, SECRET, BoltBot


def card(emulator: SlackEmulator) -> dict:
    return emulator.messages(emulator.channel_by_name("incidents")["id"])[-1]


def test_signatures_verify_with_slack_sdk(emulator: SlackEmulator):
    driver = SlackDriver(emulator, "http://127.0.0.1:9/unused", SECRET)
    body = "token=x&text=shop"
    headers = driver.signature_headers(body)
    assert SignatureVerifier(SECRET).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_slash_command_reaches_bolt_as_slack_sends_it(driver: SlackDriver, emulator, bolt: BoltBot):
    response = driver.command("U_ONCALL", "shopping-service")
    assert response.status_code == 200
    [body] = bolt.commands
    assert (body["user_id"], body["user_name"], body["command"], body["text"]) == (
        "U_ONCALL",
        "alice",
        "/rollback",
        "shopping-service",
    )
    assert body["channel_name"] == "general" and body["team_id"] == emulator.team_id
    assert body["response_url"].startswith(emulator.base_url) and body["trigger_id"]
    # the handler's chat.postMessage and respond() went through the emulator
    assert "*INC-1* shopping-service is failing" in emulator.transcript(
        emulator.channel_by_name("incidents")["id"]
    )
    [reply] = emulator.ephemerals("U_ONCALL")
    assert reply["text"] == "Declaring an incident for shopping-service"
    assert emulator.responses()[0]["text"] == "Declaring an incident for shopping-service"


def test_click_sends_block_actions_and_the_update_shows(driver: SlackDriver, emulator, bolt: BoltBot):
    driver.command("U_ONCALL", "shop")
    message = card(emulator)
    assert driver.click("U_ONCALL", message, "roll_back").status_code == 200
    [body] = bolt.actions
    assert body["container"] == {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": emulator.channel_by_name("incidents")["id"],
        "is_ephemeral": False,
    }
    [action] = body["actions"]
    assert (action["type"], action["block_id"], action["value"]) == ("button", "decide", "previous")
    assert body["message"]["blocks"] == message["blocks"] and body["user"]["id"] == "U_ONCALL"
    transcript = emulator.transcript(emulator.channel_by_name("incidents")["id"])
    assert "Rolling back to previous (edited)" in transcript and "[Roll back]" not in transcript


def test_select_sends_the_chosen_option(driver: SlackDriver, emulator, bolt: BoltBot):
    driver.command("U_ONCALL", "shop")
    with pytest.raises(AssertionError, match="no option"):
        driver.click("U_ONCALL", card(emulator), "choose", selected_option="9")
    driver.click("U_ONCALL", card(emulator), "choose", selected_option="3")
    assert bolt.actions[0]["actions"][0]["selected_option"] == {
        "text": {"type": "plain_text", "text": "rev 3"},
        "value": "3",
    }
    assert "Rolling back to 3 (edited)" in emulator.transcript("#incidents")


def test_a_button_that_is_not_shown_cannot_be_clicked(driver: SlackDriver, emulator, bolt: BoltBot):
    driver.command("U_ONCALL", "shop")
    stale = card(emulator)
    driver.click("U_ONCALL", stale, "roll_back")
    with pytest.raises(AssertionError, match="no element 'roll_back'"):
        driver.click("U_ONCALL", stale, "roll_back")  # the card was updated: the button is gone
    assert len(bolt.actions) == 1


def test_modal_opened_by_the_bot_is_submitted_with_slack_shaped_state(
    driver: SlackDriver, emulator, bolt: BoltBot
):
    driver.command("U_ONCALL", "")
    [view] = emulator.views_opened()
    assert view["callback_id"] == "declare" and view["user_id"] == "U_ONCALL"
    driver.submit_view("U_ONCALL", view, {"reason": {"text": "?"}, "service": {"pick": "shop"}})
    assert bolt.submissions == []  # the bot answered errors: the modal stays open
    driver.submit_view(
        "U_ONCALL",
        view,
        {
            "service": {"pick": "shop"},
            "reason": {"text": "5xx spike"},
            "due": {"date": "2025-01-31"},
            "owner": {"user": "U_OWNER"},
        },
    )
    values = bolt.submissions[0]["view"]["state"]["values"]
    assert values["service"]["pick"]["selected_option"]["value"] == "shop"
    assert values["reason"]["text"] == {"type": "plain_text_input", "value": "5xx spike"}
    assert values["due"]["date"] == {"type": "datepicker", "selected_date": "2025-01-31"}
    assert values["owner"]["user"] == {"type": "users_select", "selected_user": "U_OWNER"}
    with pytest.raises(AssertionError, match="not open"):
        driver.submit_view("U_ONCALL", view, {})
    with pytest.raises(AssertionError, match="no inputs"):
        driver.command("U_ONCALL", "")
        driver.submit_view("U_ONCALL", emulator.views_opened()[-1], {"nope": {"x": "y"}})


def test_forged_and_replayed_requests_get_401(driver: SlackDriver, bolt: BoltBot):
    assert driver.command("U_ONCALL", "shop", secret="not-the-secret").status_code == 401
    assert driver.command("U_ONCALL", "shop", timestamp=int(time.time()) - 301).status_code == 401
    assert bolt.commands == []
    assert driver.command("U_ONCALL", "shop").status_code == 200


def test_retry_resends_the_same_request_with_retry_headers(driver: SlackDriver, bolt: BoltBot):
    driver.command("U_ONCALL", "shop")
    driver.retry()
    assert [c["trigger_id"] for c in bolt.commands][0] == bolt.commands[1]["trigger_id"]
    assert bolt.retry_headers == [("", ""), ("1", "http_timeout")]


def test_events_and_url_verification(driver: SlackDriver, emulator, bolt: BoltBot):
    assert driver.url_verification("c-123").json() == {"challenge": "c-123"}
    driver.say("U_VIEWER", "#incidents", "<@U_BOT> status?")
    [envelope] = bolt.events
    assert envelope["type"] == "event_callback" and envelope["event"]["type"] == "app_mention"
    assert emulator.transcript("#incidents").splitlines()[-1].endswith("rollback-bot: I am here")


def test_trigger_ids_are_single_use_and_expire(emulator: SlackEmulator, client: WebClient):
    def open_modal(trigger_id: str) -> str:
        try:
            client.views_open(trigger_id=trigger_id, view=MODAL)
            return "ok"
        except SlackApiError as exc:
            return exc.response["error"]

    trigger = emulator.issue_trigger("U_ONCALL")
    assert open_modal(trigger) == "ok"
    assert open_modal(trigger) == "expired_trigger_id"
    assert open_modal("1.2.nope") == "invalid_trigger_id"
    emulator.trigger_ttl = 0.05
    late = emulator.issue_trigger("U_ONCALL")
    time.sleep(0.1)
    assert open_modal(late) == "expired_trigger_id"


def test_modal_block_limit_is_100(emulator: SlackEmulator, client: WebClient):
    view = {**MODAL, "blocks": [{"type": "divider"}] * 101}
    with pytest.raises(SlackApiError) as info:
        client.views_open(trigger_id=emulator.issue_trigger("U_ONCALL"), view=view)
    assert info.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]


def test_command_is_form_encoded_like_slack(emulator: SlackEmulator):
    """Without Bolt: the raw body the bot's endpoint receives."""
    seen = []

    from bot.sandbox.httpserver import Response, SandboxServer

    def capture(req):
        seen.append(req)
        return Response.text("")

    with SandboxServer(capture) as server:
        SlackDriver(emulator, server.url + "/slack/events", SECRET).click(
            "U_LEAD",
            {
                "type": "modal",
                "id": "V1",
                "blocks": [
                    {
                        "type": "actions",
                        "block_id": "b",
                        "elements": [
                            {
                                "type": "button",
                                "action_id": "ok",
                                "text": {"type": "plain_text", "text": "OK"},
                            }
                        ],
                    }
                ],
            },
            "ok",
        )
    [req] = seen
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    payload = json.loads(parse_qs(req.body.decode())["payload"][0])
    assert payload["container"] == {"type": "view", "view_id": "V1"} and payload["user"]["name"] == "carol"
