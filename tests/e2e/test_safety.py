"""Bad input, forged requests, people without permission and double clicks change nothing."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlencode

import pytest
from sqlalchemy import func, select

from bot.sandbox.harness import wait_for
from bot.sandbox.world import LEAD, ONCALL
from bot.slack.views import ActionId
from bot.state.models import Incident, RollbackRun
from tests.e2e.conftest import SERVICE, channel_prefix


def replies_to(world, user: str) -> list[str]:
    return [r.get("text", "") for r in world.slack.responses() if r.get("user") == user]


def incident_channels(world) -> list[str]:
    return [c.name for c in world.slack.channels.values() if c.name.startswith("inc-")]


def count(bot, model) -> int:
    return bot.rt.db.transaction(lambda s: s.scalar(select(func.count()).select_from(model)))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("nope-service it is broken", "I don't know a service called `nope-service`"),
        ('shopping-service"}) or vector(1', "is not a valid service name"),
        ("../../etc/passwd", "is not a valid service name"),
        ("Shopping_Service!", "is not a valid service name"),
        ("x" * 2000, "the most I accept is 1000"),
        (f"{SERVICE} " + "y" * 600, "please keep it under 500"),
        ("history", "Which service?"),
        ("resolve <!channel>", "is not an incident id"),
    ],
)
def test_bad_input_gets_a_polite_private_answer_and_changes_nothing(world, bot, alice, text, says):
    alice.type(text)
    reply = wait_for("the ephemeral answer", lambda: replies_to(world, ONCALL), 10)[-1]
    assert says in reply
    assert "Nothing was changed" in reply
    assert incident_channels(world) == [] and count(bot, Incident) == 0
    assert "<!channel>" not in reply


def test_forged_and_replayed_requests_are_refused(world, bot):
    forged = bot.driver.command(ONCALL, SERVICE, secret="not-the-signing-secret")
    stale = bot.driver.command(ONCALL, SERVICE, timestamp=int(time.time()) - 600)
    assert forged.status_code == 401 and stale.status_code == 401
    time.sleep(0.5)
    assert count(bot, Incident) == 0 and incident_channels(world) == []


def test_help_status_and_history(world, bot, alice):
    alice.type("help")
    alice.type("status")
    alice.type(f"history {SERVICE}")
    replies = wait_for("three answers", lambda: len(replies_to(world, ONCALL)) >= 3 and replies_to(world, ONCALL))
    everything = str(world.slack.responses())
    assert "/rollback resolve" in everything  # help lists the commands
    assert "v1.2.3" in everything and "v1.2.5" in everything  # the rollout history
    assert count(bot, Incident) == 0, replies


def test_a_second_incident_for_the_same_service_is_not_opened(world, bot, alice, carol):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    carol.type(f"{SERVICE} errors again")
    reply = wait_for("carol's answer", lambda: replies_to(world, LEAD), 10)[-1]
    assert "already open" in reply and f"<#{channel.id}>" in reply
    assert count(bot, Incident) == 1 and len(incident_channels(world)) == 1


def test_someone_not_allowed_cannot_roll_back(world, bot, alice, dave):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    dave.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    reply = wait_for("dave's answer", lambda: replies_to(world, dave.user), 10)[-1]
    assert f"You can't roll back {SERVICE}" in reply and "Nothing was changed" in reply
    assert not any("confirm_rollback" in str(m.get("blocks")) for m in world.slack.messages(channel.id))


def resend_as(driver, user_id: str):
    """The last click again, from ``user_id``: what Slack sends when two people click the same button at once."""
    form = parse_qs(driver.last.body)
    payload = json.loads(form["payload"][0])
    payload["user"] = {**payload["user"], "id": user_id, "username": user_id}
    payload["response_url"] = driver.emulator.issue_response_url(user_id, payload["channel"]["id"])
    return driver.send(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def test_double_clicks_retries_and_other_people_never_start_a_second_run(world, bot, alice):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    shown = alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert bot.driver.retry().status_code == 200  # Slack resends the same click
    assert resend_as(bot.driver, ONCALL).status_code == 200  # a double click
    assert resend_as(bot.driver, LEAD).status_code == 200  # carol clicks the same button at the same moment
    told = wait_for(
        "carol is told who is rolling back", lambda: [r for r in replies_to(world, LEAD) if "already" in r], 10
    )[-1]
    assert f"<@{ONCALL}>" in told
    alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=90)
    assert count(bot, RollbackRun) == 1
    _, plan = world.slack.find_message(shown["ts"])
    assert "confirm_rollback" not in str(plan["blocks"]) and "Confirmed by" in str(plan["blocks"])
    from kubernetes import client, config

    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    deployment = apps.read_namespaced_deployment(SERVICE, "shopping")
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "4"

    # Much later, the same old click once more: the plan was used; nothing runs again.
    assert resend_as(bot.driver, ONCALL).status_code == 200
    wait_for(
        "alice is told the plan was used", lambda: [r for r in replies_to(world, ONCALL) if "already confirmed" in r]
    )
    time.sleep(0.5)
    assert count(bot, RollbackRun) == 1


def test_the_load_balancer_health_check_answers(bot):
    import requests

    response = requests.get(f"{bot.url}/healthz", timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert requests.get(f"{bot.url}/nope", timeout=5).status_code == 404
