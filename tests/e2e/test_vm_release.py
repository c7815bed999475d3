"""VM hosts rolled back host by host over real SSH (one real sshd per host, real host keys) behind a real HAProxy
(its runtime API): declare, the plan with each host's release, Confirm, every command on the timeline, verified;
a restart failing mid-run stops with the remaining hosts untouched and offers *Roll those hosts forward again*;
an unknown host key, a missing release directory and an SSH timeout are refused with nothing changed."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.world import World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import QUICK_BAKE
from tests.support import need_binary

SERVICE = "shopping-vm"
OUTCOMES = ("is back on", "FAILED", "NOT healthy", "could not be verified")


@pytest.fixture
def world(request):
    for binary in ("prometheus", "/usr/sbin/sshd", "/usr/sbin/haproxy"):
        need_binary(binary)
    overrides = dict(QUICK_BAKE)
    with World(prometheus=True, catalog_overrides=overrides, vms=True) as w:
        yield w


def declare(alice):
    alice.type(f"{SERVICE} checkout errors after deploy")
    channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}")
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    return channel


def events(bot, channel_id: str) -> list[timeline.TimelineEvent]:
    return timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)


def test_hosts_are_rolled_back_one_at_a_time_and_verified(world, bot, alice):
    channel = declare(alice)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "web-1: v1.2.5 → v1.2.4" in plan and "web-3: v1.2.5 → v1.2.4" in plan, plan
    assert world.vms.releases() == {"web-1": "v1.2.5", "web-2": "v1.2.5", "web-3": "v1.2.5"}

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1.2.4" in done["text"] and "and verified" in done["text"], done["text"]
    assert world.vms.releases() == {"web-1": "v1.2.4", "web-2": "v1.2.4", "web-3": "v1.2.4"}
    assert set(world.vms.lb_status().values()) == {"UP"}
    texts = [e.text for e in events(bot, channel.id)]
    current = world.vms.catalog_entry()["options"]["current"]
    assert any(
        t.startswith(f"web-2: `ln -sfn {current.rsplit('/', 1)[0]}/releases/v1.2.4 {current}` → exit 0") for t in texts
    ), texts
    assert any("web-3: `systemctl restart shopping.service` → exit 0" in t for t in texts), texts
    assert any("web-1: drained in HAProxy" in t for t in texts) and any("web-1: back in HAProxy" in t for t in texts)
    order = [t.split(":")[0] for t in texts if "systemctl restart" in t]
    assert order == ["web-1", "web-2", "web-3"], order


def test_a_restart_failing_mid_run_stops_there_and_the_hosts_can_be_rolled_forward(world, bot, alice):
    world.vms.fail_restart("web-2")
    channel = declare(alice)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel.id, "The rollback FAILED", timeout=90)
    card = json.dumps(failed["blocks"], ensure_ascii=False)
    assert "web-2: the restart failed: `systemctl restart shopping.service` exited 1" in card, card
    assert "web-1 on v1.2.4" in card and "web-3 on v1.2.5, untouched" in card, card
    assert "web-2 on v1.2.4, OUT of the load balancer" in card, card
    assert world.vms.releases() == {"web-1": "v1.2.4", "web-2": "v1.2.4", "web-3": "v1.2.5"}
    assert world.vms.lb_status()["web-2"] in ("DRAIN", "DOWN", "MAINT")  # drained, and failing its checks
    assert "Roll those hosts forward again" in card and "Page escalation" in card

    world.vms.fail_restart("web-2", failing=False)
    alice.click(channel.id, ActionId.SCALE_TO_ZERO)
    alice.message_saying(channel.id, "rolled forward: web-1 v1.2.4 → v1.2.5, web-2 v1.2.4 → v1.2.5", timeout=60)
    assert world.vms.releases() == {"web-1": "v1.2.5", "web-2": "v1.2.5", "web-3": "v1.2.5"}
    bot.wait_for("every host back in", lambda: set(world.vms.lb_status().values()) == {"UP"}, 10)


def said(world, bot, channel_id: str, phrase: str, timeout: float) -> str:
    """The first thing the bot told anyone (the channel, a private answer, the timeline) that has ``phrase``."""

    def find() -> str:
        texts = [
            world.slack.transcript(channel_id),
            *(json.dumps(r, ensure_ascii=False) for r in world.slack.responses()),
            *(e.text for e in events(bot, channel_id)),
        ]
        return next((t for t in texts if phrase in t), "")

    return bot.wait_for(f"the bot saying {phrase!r}", find, timeout)


def opened(alice):
    alice.type(f"{SERVICE} checkout errors after deploy")
    return alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}")


def test_an_unknown_host_key_is_refused_and_never_added(world, bot, alice):
    known = world.vms.known_hosts_file
    known.write_text("".join(line + "\n" for line in known.read_text().splitlines()[1:]))  # web-1 forgotten
    channel = opened(alice)
    text = said(world, bot, channel.id, "is not in the bot's known_hosts", 30)
    assert "web-1" in text and "the bot never adds host keys" in text and "SHA256:" in text, text
    assert len(known.read_text().splitlines()) == 2  # never added
    assert world.vms.releases()["web-1"] == "v1.2.5"


def test_a_release_missing_on_one_host_refuses_the_plan(world, bot, alice):
    shutil.rmtree(world.vms.host("web-3").dir / "releases" / "v1.2.4")
    channel = declare(alice)
    text = said(world, bot, channel.id, "release v1.2.4 is missing on web-3", 30)
    assert "Nothing was changed" in text, text
    assert set(world.vms.releases().values()) == {"v1.2.5"}


def test_an_ssh_timeout_is_reported_with_the_host_and_nothing_changes(world, bot, alice):
    world.vms.hang("web-2")
    try:
        channel = declare(alice)
        text = said(world, bot, channel.id, "timed out", 60)
        assert "web-2" in text, text
        assert set(world.vms.releases().values()) == {"v1.2.5"}
    finally:
        world.vms.hang("web-2", hung=False)
