"""Automatic rollback after Alertmanager declares: ``execute`` counts down in the channel and rolls back as
``system:auto-rollback`` unless someone clicks *Hold*; it only proposes when a second person must approve or
the revision it would go back to is not known good."""

from __future__ import annotations

import json
import time

import pytest

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import LEAD, ONCALL, OWNER, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.alert_bodies import alert, incidents, notification, post
from tests.e2e.conftest import QUICK_BAKE, SERVICE

ALLOWED = [ONCALL, OWNER, LEAD, "system:auto-rollback"]


@pytest.fixture
def make_bot():
    """A world whose catalog has ``auto_rollback: execute`` (and ``catalog``), and the bot on it."""
    made = []

    def make(**catalog):
        overrides = {**QUICK_BAKE, "rollback_allowed": ALLOWED, "auto_rollback": "execute", **catalog}
        world = World(prometheus=False, catalog_overrides=overrides).start()
        bot = BotHarness(world).start()
        made.append((world, bot))
        return bot

    yield make
    for world, bot in made:
        bot.stop()
        world.stop()


def shown(message: dict) -> str:
    return (message.get("text") or "") + json.dumps(message.get("blocks") or [])


def events(bot, kind: str) -> list:
    (incident,) = incidents(bot)
    return [e for e in timeline.events(bot.rt.db, incident.id) if e.kind == kind]


def declare_by_alert(bot):
    assert post(bot, notification(alert(SERVICE))).status_code == 200
    return OnCall(bot, ONCALL).channel("inc-")


def test_execute_counts_down_then_rolls_back_as_its_own_actor(make_bot):
    bot = make_bot(auto_rollback_grace="25s")
    channel = declare_by_alert(bot)
    alice = OnCall(bot, ONCALL)
    countdown = alice.message_with(channel.id, ActionId.HOLD_AUTO_ROLLBACK)
    posted = time.monotonic()
    assert "Rolling back to v1.2.4 (revision 2) in 0:25 unless someone clicks *Hold*" in countdown["text"]
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)  # the plan it will confirm is there to read

    started = alice.message_saying(channel.id, "started the rollback", timeout=60)
    assert time.monotonic() - posted >= 24, "not before the grace period ended"
    assert "system: auto-rollback started the rollback" in shown(started)
    (decision,) = events(bot, "decision")
    assert decision.actor == "system:auto-rollback"
    assert decision.data["actor"] == {"kind": "system", "name": "auto-rollback"}
    phases = [e.data["phase"] for e in events(bot, "auto_rollback")]
    assert phases == ["countdown", "started"]

    final = next(m for m in bot.world.slack.messages(channel.id) if m["ts"] == countdown["ts"])
    assert "the grace period ended with no *Hold*" in shown(final) and "hold_auto_rollback" not in shown(final)
    edits = [c for c in bot.world.slack.calls("chat.update") if c["params"].get("ts") == countdown["ts"]]
    ticking = [c for c in edits if "unless someone clicks" in (c["params"].get("text") or "")]
    assert ticking, "the countdown was updated while it ran"
    times = [c["time"] for c in ticking]
    assert all(b - a >= 9.5 for a, b in zip(times, times[1:], strict=False)), "at most every 10 s"
    assert any(t in ticking[0]["params"]["text"] for t in ("in 0:15", "in 0:14", "in 0:13"))
    assert_the_card_counted_down(bot, incidents(bot)[0].card_ts)


def assert_the_card_counted_down(bot, card_ts: str) -> None:
    """The pinned card showed the countdown with its *Hold*, its figure changing at most every 10 s, and no
    longer shows it once the rollback started."""
    figures = []  # (time, "in 0:25") of each card edit that showed the countdown
    for call in bot.world.slack.calls("chat.update"):
        shown_now = json.dumps(call["params"].get("blocks") or [])
        if call["params"].get("ts") == card_ts and "unless someone clicks" in shown_now:
            assert "hold_auto_rollback" in shown_now
            figures.append((call["time"], shown_now.split("Rolling back to ")[1].split(" unless")[0]))
    assert figures, "the card showed the countdown"
    changes = [t for (t, f), (_, before) in zip(figures[1:], figures, strict=False) if f != before]
    assert len(changes) >= 1, f"the card's countdown moved: {figures}"
    assert all(b - a >= 9.5 for a, b in zip(changes, changes[1:], strict=False)), "at most every 10 s"

    def dropped():
        _, card = bot.world.slack.find_message(card_ts)
        return "unless someone clicks" not in shown(card)

    bot.wait_for("the card to drop the countdown once it ended", dropped)


def test_hold_stops_it_and_people_decide(make_bot):
    bot = make_bot(auto_rollback_grace="6s")
    channel = declare_by_alert(bot)
    carol = OnCall(bot, LEAD)
    carol.click(channel.id, ActionId.HOLD_AUTO_ROLLBACK)
    held = carol.message_saying(channel.id, "Held by")
    assert f"<@{LEAD}>" in shown(held) and "hold_auto_rollback" not in shown(held)
    time.sleep(8)  # past the deadline: nothing may happen now
    assert [e.data["phase"] for e in events(bot, "auto_rollback")] == ["countdown", "held"]
    assert [e.data.get("plan_decision") for e in events(bot, "decision")] == ["cancelled"]
    assert incidents(bot)[0].status == "open"
    assert not [c for c in bot.world.slack.calls("chat.postMessage") if "started the rollback" in str(c["params"])]


def test_a_viewer_cannot_hold(make_bot):
    bot = make_bot(auto_rollback_grace="30s")
    channel = declare_by_alert(bot)
    viewer = OnCall(bot, "U_VIEWER")
    viewer.click(channel.id, ActionId.HOLD_AUTO_ROLLBACK)
    bot.wait_for("the refusal audited", lambda: events(bot, "audit"))
    assert [e.data["phase"] for e in events(bot, "auto_rollback")] == ["countdown"], "still counting down"


@pytest.mark.parametrize(
    ("catalog", "why"),
    [
        ({"require_approval": True}, "require_approval is set"),
        ({"min_good_minutes": 100_000}, "not known good"),
        ({"auto_rollback": "propose"}, "auto_rollback is propose"),
    ],
)
def test_it_only_proposes_when_execute_is_not_safe(make_bot, catalog, why):
    bot = make_bot(**catalog)
    channel = declare_by_alert(bot)
    alice = OnCall(bot, ONCALL)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK if "require" not in why else ActionId.APPROVE_ROLLBACK)
    note = alice.message_saying(channel.id, "Automatic rollback proposed, not executed")
    assert why in shown(note)
    assert [e.data["phase"] for e in events(bot, "auto_rollback")] == ["proposed"]
    assert not [m for m in bot.world.slack.messages(channel.id) if "hold_auto_rollback" in shown(m)]


def test_off_posts_no_plan(make_bot):
    bot = make_bot(auto_rollback="off")
    channel = declare_by_alert(bot)
    OnCall(bot, ONCALL).message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    bot.wait_for("the alert recorded", lambda: events(bot, "alert"))
    assert events(bot, "plan") == [] and events(bot, "auto_rollback") == [], "the incident waits for a person"
