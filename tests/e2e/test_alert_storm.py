"""An alert storm: 50 alerts for 20 services within a second, while Slack rate-limits the bot. Twenty incidents,
each with its channel, its people, its topic and its pinned card; every 429 retried, none left unanswered."""

from __future__ import annotations

import threading
import time

import pytest

from bot.sandbox.harness import BotHarness
from bot.sandbox.scenario import Revision, Scenario, ServiceSpec
from bot.sandbox.world import OWNER, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.alert_bodies import alert, incidents, notification, post
from tests.e2e.conftest import QUICK_BAKE

SERVICES = [f"svc-{i:02d}" for i in range(20)]
SIGNALS = ("HighErrorRate", "LowSuccessRate", "HighLatencyP95")


def storm_scenario() -> Scenario:
    return Scenario(
        services=tuple(
            ServiceSpec(
                name=name,
                namespace=name,
                replicas=1,
                requests_per_second=5,
                revisions=(Revision(f"registry.local/{name}:v1", age_hours=5), Revision(f"registry.local/{name}:v2")),
            )
            for name in SERVICES
        )
    )


@pytest.fixture
def storm_bot():
    with World(storm_scenario(), prometheus=False, catalog_overrides=QUICK_BAKE) as world:
        # Slack's tier 2 is about 20 calls a minute; the emulator's limits are tighter, so the storm meets them.
        for method in ("conversations.create", "pins.add", "conversations.invite", "conversations.setTopic"):
            world.slack.set_rate_limit(method, 8)
        world.slack.set_rate_limit("chat.postMessage", 15)
        with BotHarness(world) as bot:
            yield bot


def complete(bot, incident) -> bool:
    """Channel, members, topic and pinned card, as the on-call engineer would find them."""
    if not (incident.channel_id and incident.card_ts):
        return False
    info = bot.world.slack.channel_by_name(incident.channel_name)
    card = next((m for m in bot.world.slack.messages(incident.channel_id) if m["ts"] == incident.card_ts), None)
    buttons = [e.get("action_id") for b in (card or {}).get("blocks", []) for e in b.get("elements") or []]
    return (
        incident.card_ts in info["pins"]
        and OWNER in info["members"]
        and incident.key in info["topic"]["value"]
        and ActionId.ROLLBACK_PREVIOUS in buttons
    )


def test_fifty_alerts_for_twenty_services_in_a_second_make_twenty_complete_incidents(storm_bot):
    bot = storm_bot
    # 50 alerts: every service fires one, ten fire a second, and every first one arrives again in another group.
    bodies = [notification(alert(s, SIGNALS[0]), group_key=f'{{}}:{{service="{s}"}}') for s in SERVICES]
    bodies += [notification(alert(s, SIGNALS[1]), group_key=f'{{}}:{{service="{s}"}}') for s in SERVICES[:10]]
    bodies += [notification(alert(s, SIGNALS[0]), group_key='{}:{severity="page"}') for s in SERVICES]
    assert sum(len(b["alerts"]) for b in bodies) == 50
    answers: list[int] = []
    sent: list[float] = []
    together = threading.Barrier(len(bodies))

    def send(body: dict) -> None:
        together.wait()  # all fifty leave at once, as a storm does
        sent.append(time.monotonic())
        answers.append(post(bot, body).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(sent) - min(sent) < 1.0, "fifty alerts within one second"
    assert answers == [200] * 50

    def all_complete():
        found = incidents(bot)
        return len(found) == 20 and all(complete(bot, i) for i in found) and found

    found = bot.wait_for("twenty complete incidents", all_complete, timeout=120)
    assert sorted(i.service for i in found) == SERVICES
    assert {i.declared_by for i in found} == {"system:alertmanager"}
    limited = [c for c in bot.world.slack.calls() if c["status"] == 429]
    assert limited, "the storm met Slack's rate limits"
    failed = [c for c in bot.world.slack.calls() if c["status"] == 200 and not c["ok"]]
    assert failed == [], "every call that was limited was retried until it succeeded"
    for incident in found:
        expected = sorted(SIGNALS[:2]) if incident.service in SERVICES[:10] else [SIGNALS[0]]

        def alerts_of(incident=incident):
            events = timeline.events(bot.rt.db, incident.id)
            return sorted(e.data["alertname"] for e in events if e.kind == "alert"), events

        # the second alert of a service is recorded once its incident is there: wait for it, never a sleep
        def recorded(expected=expected):
            return alerts_of()[0] == expected or None

        bot.wait_for(f"the alerts of {incident.key}", recorded, timeout=60)
        alerts, events = alerts_of()
        assert not [e.text for e in events if e.text.startswith("Could not")], incident.key
        assert alerts == expected, (incident.key, alerts)
    bot.wait_for(
        "the twenty announcements",
        lambda: len([m for m in bot.world.slack.messages("#incidents") if "INC-" in (m.get("text") or "")]) >= 20,
    )
