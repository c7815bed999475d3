"""The rest of the lifecycle: the declare modal, stakeholder updates, reminders, crashed replicas, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from kubernetes import client, config

from bot.incidents.cards import incident_in_channel
from bot.incidents.comms import remind_due
from bot.providers.kubernetes.locator import k8s_target
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, ONCALL
from bot.slack.views import DECLARE_REASON, DECLARE_SERVICE, UPDATE_NEXT_IN, UPDATE_SUMMARY, ActionId, CallbackId
from bot.state import runs, timeline
from bot.worker import Worker
from tests.e2e.conftest import SERVICE, channel_prefix


def revision_and_image(world) -> tuple[str, str]:
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    d = apps.read_namespaced_deployment(SERVICE, "shopping")
    return d.metadata.annotations["deployment.kubernetes.io/revision"], d.spec.template.spec.containers[0].image


def test_rollback_alone_asks_for_the_service_in_a_modal(world, bot, alice):
    alice.type("")
    alice.submit(
        alice.modal(CallbackId.DECLARE),
        {
            DECLARE_SERVICE: {DECLARE_SERVICE: SERVICE},
            DECLARE_REASON: {DECLARE_REASON: "payments failing"},
        },
    )
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    assert "payments failing" in world.slack.channel_by_name(channel.name)["topic"]["value"]


def test_status_updates_reach_both_channels_and_reminders_ask_the_lead(world, bot, alice):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.type("update", channel_id=channel.id)
    alice.submit(alice.modal(CallbackId.STATUS_UPDATE), {UPDATE_SUMMARY: {UPDATE_SUMMARY: "Rolling back to v1.2.4"}})
    alice.message_saying(channel.id, "Rolling back to v1.2.4", timeout=10)
    announcements = world.slack.channel_by_name("incidents")["id"]
    alice.message_saying(announcements, "Rolling back to v1.2.4", timeout=10)  # posted after the channel's

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)
    # Three workers (as on three replicas) run their reminders job at the same moment: one reminder goes out.
    sent: list[int] = []
    threads = [threading.Thread(target=lambda: sent.append(remind_due(bot.rt, later))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == [0, 0, 1]
    reminder = alice.message_saying(channel.id, "no stakeholder update", timeout=5)
    assert f"<@{ONCALL}>" in reminder["text"] and "/rollback update" in reminder["text"]
    assert remind_due(bot.rt, later) == 0, "one reminder per period, not one per loop"
    assert remind_due(bot.rt, later + dt.timedelta(minutes=31)) == 1, "and one in the next period"


def test_the_update_forms_next_update_choice_sets_the_reminder(world, bot, alice):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.type("update", channel_id=channel.id)
    alice.submit(
        alice.modal(CallbackId.STATUS_UPDATE),
        {UPDATE_SUMMARY: {UPDATE_SUMMARY: "Watching the fix"}, UPDATE_NEXT_IN: {UPDATE_NEXT_IN: "15"}},
    )
    alice.message_saying(channel.id, "Watching the fix", timeout=10)
    now = dt.datetime.now(dt.UTC)

    def reminder_in_15_minutes() -> bool:  # posted first, stored just after (it replaces the 30-minute default)
        at = incident_in_channel(bot.rt, channel.id).next_reminder_at
        return at is not None and at.replace(tzinfo=dt.UTC) <= now + dt.timedelta(minutes=16)

    wait_for("the reminder to be stored", reminder_in_15_minutes, timeout=10)
    assert remind_due(bot.rt, now + dt.timedelta(minutes=14)) == 0
    assert remind_due(bot.rt, now + dt.timedelta(minutes=16)) == 1, "asked for the update in 15 minutes"

    alice.type("update", channel_id=channel.id)
    alice.submit(
        alice.modal(CallbackId.STATUS_UPDATE),
        {UPDATE_SUMMARY: {UPDATE_SUMMARY: "Stable now"}, UPDATE_NEXT_IN: {UPDATE_NEXT_IN: "0"}},
    )
    alice.message_saying(channel.id, "Stable now", timeout=10)
    wait_for(
        "the update to be stored",
        lambda: incident_in_channel(bot.rt, channel.id).next_reminder_at is None,
        timeout=10,
    )
    assert remind_due(bot.rt, now + dt.timedelta(hours=5)) == 0, '"no more updates" means none'


@pytest.fixture
def bot_without_worker(world):
    with BotHarness(world, worker=False) as h:
        yield h


def test_a_crashed_replicas_run_is_resumed_without_patching_twice(world, bot_without_worker):
    bot = bot_without_worker
    alice = OnCall(bot, ONCALL)
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "started the rollback", timeout=10)

    # Replica A claims the run, sends the patch, then dies without another heartbeat.
    run = wait_for("the run", lambda: runs.claim(bot.rt.db, "replica-a", lease_seconds=1), 5)
    service = bot.rt.catalog.get(SERVICE)
    strategy = bot.rt.strategy_for(service)
    runs.step(bot.rt.db, run.id, "pre-checks", "done")
    runs.step(bot.rt.db, run.id, "rollback", "running")
    strategy.apply(strategy.plan(k8s_target(SERVICE, "shopping", SERVICE, "app", run.target["to_revision"])))
    assert revision_and_image(world) == ("4", "registry.local/shopping-service:v1.2.4")

    # Replica B takes the run over once A's lease has run out, and finishes it.
    replica_b = Worker(bot.rt, worker_id="replica-b", lease_seconds=5)
    wait_for("replica B to claim the expired run", replica_b.claim_and_start, 10, interval=0.3)
    done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=90)
    replica_b.stop()
    assert "is back on v1.2.4" in done["text"], done["text"]
    assert revision_and_image(world) == ("4", "registry.local/shopping-service:v1.2.4"), "patched once, not twice"
    kinds = [e.kind for e in timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel.id).id)]
    assert "rollback_resumed" in kinds and "patched" not in kinds


def test_two_replicas_on_postgresql_run_one_rollback(world, pg_schema_url):
    env = {"DATABASE_URL": pg_schema_url()}
    with BotHarness(world, env=env) as one, BotHarness(world, env=env) as two:
        alice, carol = OnCall(one, ONCALL), OnCall(two, LEAD)
        alice.type(f"{SERVICE} errors")
        channel = alice.channel(channel_prefix())
        alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
        alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
        alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)  # through replica one
        carol.click(channel.id, ActionId.CONFIRM_ROLLBACK)  # through replica two, at once
        done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=90)
        assert "is back on v1.2.4" in done["text"]
        told = [r["text"] for r in world.slack.responses() if r.get("user") == LEAD and "already" in r["text"]]
        assert told and f"<@{ONCALL}>" in told[-1]
        assert revision_and_image(world) == ("4", "registry.local/shopping-service:v1.2.4")
        incident = incident_in_channel(one.rt, channel.id)
        assert incident.key.startswith("INC-") and one.rt.db.is_postgres


def test_forward_fix_keeps_the_incident_open_without_touching_the_cluster(world, bot, alice):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.FORWARD_FIX)
    alice.message_saying(channel.id, "chose a *forward fix*", timeout=10)
    alice.message_with(channel.id, ActionId.RESOLVE)  # the card now offers Resolve
    assert revision_and_image(world) == ("3", "registry.local/shopping-service:v1.2.5")


def test_a_dismissed_incident_frees_the_service_and_the_next_channel_gets_a_suffix(world, bot, alice):
    alice.type(f"{SERVICE} false alarm")
    first = alice.channel(channel_prefix())
    alice.click(first.id, ActionId.DISMISS)
    alice.message_saying(first.id, "dismissed INC-", timeout=10)
    alice.type(f"{SERVICE} errors again")
    second = alice.channel(channel_prefix() + "-2")
    alice.message_with(second.id, ActionId.ROLLBACK_PREVIOUS)
    keys = {incident_in_channel(bot.rt, c.id).key for c in (first, second)}
    assert len(keys) == 2 and all(k.startswith("INC-") for k in keys)
    assert revision_and_image(world) == ("3", "registry.local/shopping-service:v1.2.5")


def test_a_harness_timeout_shows_the_bots_log_and_the_timeline(world, bot, alice):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    with pytest.raises(TimeoutError) as timed_out:
        alice.message_saying(channel.id, "a message the bot never sends", timeout=1)
    text = str(timed_out.value)
    assert "--- the bot's log (last lines) ---" in text and "worker" in text
    assert "--- timeline of INC-" in text and "declared" in text and "Incident channel #inc-" in text
