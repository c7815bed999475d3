"""POST /alerts/alertmanager: Alertmanager's webhook declares incidents as the ``alertmanager`` system actor,
one per catalog service, with every alert's firing and resolution on the timeline; bad credentials get 401 and
bad bodies 400, and neither changes anything."""

from __future__ import annotations

import base64
import json

import pytest

from bot.sandbox.harness import wait_for
from bot.sandbox.world import OWNER
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.alert_bodies import alert, incidents, notification, post
from tests.e2e.conftest import SERVICE


def alert_events(bot, incident_id: int) -> list:
    return [e for e in timeline.events(bot.rt.db, incident_id) if e.kind == "alert"]


def handled(bot, count: int) -> None:
    """Wait until the bot has handled ``count`` services' worth of notifications (it logs each)."""
    bot.wait_for(
        f"{count} notifications handled", lambda: sum("alerts handled" in line for line in bot.log.lines()) >= count
    )


def test_only_the_token_gets_in(world, bot, alice):
    body = notification(alert(SERVICE))
    basic = base64.b64encode(f"alertmanager:{world.alertmanager_token}".encode()).decode()
    wrong_user = base64.b64encode(f"admin:{world.alertmanager_token}".encode()).decode()
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": f"Token {world.alertmanager_token}"},
        {"Authorization": f"Basic {wrong_user}"},
        {"Authorization": "Basic !!!"},
    ):
        answer = post(bot, body, token="", **headers)
        assert answer.status_code == 401, headers
        assert "unauthorized" in answer.json()["error"] and "Bearer" in answer.headers["WWW-Authenticate"]
    assert incidents(bot) == [] and not world.slack.calls("conversations.create"), "nothing changed"

    answer = post(bot, body, token="", Authorization=f"Basic {basic}")
    assert answer.status_code == 200 and answer.json() == {"services": {SERVICE: 1}, "ignored": []}
    channel = alice.channel("inc-")
    assert channel.name.endswith(SERVICE)


@pytest.mark.bot_env({"ALERTMANAGER_TOKEN": ""})
def test_with_no_token_set_every_request_is_refused(world, bot):
    answer = post(bot, notification(alert(SERVICE)), token="anything")
    assert answer.status_code == 401 and "no ALERTMANAGER_TOKEN is set" in answer.json()["error"]
    assert incidents(bot) == []


def test_a_malformed_body_gets_400_and_changes_nothing(world, bot):
    good = notification(alert(SERVICE))

    def with_alert(**changes) -> dict:
        return {**good, "alerts": [{**good["alerts"][0], **changes}]}

    bad = {
        b"{not json": "not JSON",
        b"\xff\xfe": "not JSON",
        json.dumps([good]).encode(): "a JSON object",
        json.dumps({**good, "version": "3"}).encode(): 'version must be "4"',
        json.dumps({**good, "groupKey": ""}).encode(): "groupKey",
        json.dumps({**good, "alerts": []}).encode(): "alerts must be a non-empty list",
        json.dumps({**good, "status": "pending"}).encode(): "status must be firing or resolved",
        json.dumps(with_alert(labels={"service": 3})).encode(): "alerts[0].labels must be an object of strings",
        json.dumps(with_alert(startsAt="yesterday")).encode(): "alerts[0].startsAt must be an RFC 3339 time",
        json.dumps(with_alert(status="pending")).encode(): "alerts[0].status",
        json.dumps({**good, "alerts": [good["alerts"][0], "x"]}).encode(): "alerts[1] must be an object",
    }
    for body, why in bad.items():
        answer = post(bot, body)
        assert answer.status_code == 400, body
        assert why in answer.json()["error"], (why, answer.json())
    assert incidents(bot) == [] and not world.slack.calls("conversations.create"), "nothing changed"


def test_one_incident_per_service_however_many_alerts_and_resolved_alerts_on_the_timeline(world, bot, alice):
    errors, latency = alert(SERVICE), alert(SERVICE, "HighLatencyP95")
    first = notification(errors, group_key='{}:{service="shopping-service"}')
    assert post(bot, first).status_code == 200
    channel = alice.channel("inc-")
    card = alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    info = wait_for("the card to be pinned", lambda: (i := world.slack.channel_by_name(channel.name))["pins"] and i)
    assert card["ts"] in info["pins"] and OWNER in info["members"]
    assert "HighErrorRate" in world.slack.transcript(channel.id)
    (incident,) = incidents(bot)
    assert incident.declared_by == "system:alertmanager" and incident.lead_user_id is None

    # Alertmanager repeats the group, sends the same alert in another group, then the group grows by one alert.
    assert post(bot, first).status_code == 200
    assert post(bot, notification(errors, group_key='{}:{severity="page"}')).status_code == 200
    assert post(bot, notification(errors, latency, group_key=first["groupKey"])).status_code == 200
    events = bot.wait_for("both alerts on the timeline", lambda: len(e := alert_events(bot, incident.id)) == 2 and e)
    assert [e.data["alertname"] for e in events] == ["HighErrorRate", "HighLatencyP95"]
    assert all(e.actor == "system:alertmanager" for e in events)

    resolved = {**errors, "status": "resolved", "endsAt": "2026-12-06T12:30:00Z"}
    for _ in range(2):  # the resolution, then its repeat
        assert post(bot, notification(resolved, latency, group_key=first["groupKey"])).status_code == 200
    events = bot.wait_for("the resolution", lambda: len(e := alert_events(bot, incident.id)) == 3 and e)
    assert events[-1].data["status"] == "resolved" and "resolved at 12:30:00 UTC" in events[-1].text
    handled(bot, 6)  # the repeat too
    assert len(alert_events(bot, incident.id)) == 3 and len(incidents(bot)) == 1
    assert len(world.slack.calls("conversations.create")) == 1


def test_alerts_for_no_catalog_service_are_answered_and_ignored(world, bot):
    body = notification(alert("payments"), {**alert(SERVICE), "labels": {"alertname": "Watchdog"}})
    answer = post(bot, body)
    assert answer.status_code == 200
    assert answer.json() == {
        "services": {},
        "ignored": [
            "HighErrorRate: service='payments' is not in the services catalog",
            "Watchdog: no 'service' label",
        ],
    }
    resolved_only = notification(alert(SERVICE, status="resolved"))
    assert post(bot, resolved_only).json()["services"] == {SERVICE: 1}
    handled(bot, 1)
    assert incidents(bot) == [], "a resolution opens no incident"


@pytest.mark.bot_env({"ALERTMANAGER_SERVICE_LABEL": "app"})
def test_the_service_label_is_configurable(world, bot, alice):
    answer = post(bot, notification(alert(SERVICE, label="app")))
    assert answer.json()["services"] == {SERVICE: 1}
    alice.channel("inc-")
