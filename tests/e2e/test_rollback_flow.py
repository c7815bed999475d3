"""`/rollback shopping-service` from the first command to the postmortem, as the on-call engineer sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kubernetes import client, config

from bot.sandbox.harness import wait_for
from bot.sandbox.world import ONCALL, OWNER
from bot.slack.views import (
    RESOLVE_IMPACT,
    RESOLVE_LESSONS,
    RESOLVE_ROOT_CAUSE,
    ActionId,
    CallbackId,
    action_item_block,
)
from tests.e2e.conftest import SERVICE, channel_prefix
from tests.support import need_binary


def live_image(world) -> str:
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    return apps.read_namespaced_deployment(SERVICE, "shopping").spec.template.spec.containers[0].image


def texts(world, channel_id: str) -> str:
    return world.slack.transcript(channel_id)


@pytest.mark.prometheus
def test_declare_roll_back_verify_and_resolve(world, bot, alice):
    kubectl = need_binary("kubectl")
    alice.type(f"{SERVICE} checkout errors spiking")
    channel = alice.channel(channel_prefix())

    # The pinned card: severity from real Prometheus, the live revision and the target, four choices.
    pinned = alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    info = wait_for("the card to be pinned", lambda: (i := world.slack.channel_by_name(channel.name))["pins"] and i)
    assert {ONCALL, OWNER} <= set(info["members"]), "the caller and the owners are invited"
    assert info["topic"]["value"].startswith("INC-") and SERVICE in info["topic"]["value"]
    assert pinned["ts"] in info["pins"]
    shown = texts(world, channel.id)
    assert "High" in shown and "5xx rate" in shown and "v1.2.5" in shown and "v1.2.4" in shown
    assert "unavailable" not in shown.split("Live now")[0], "Prometheus answered every signal"
    for action in (ActionId.CHOOSE_REVISION, ActionId.FORWARD_FIX, ActionId.DISMISS):
        alice.message_with(channel.id, action)
    incidents = world.slack.channel_by_name("incidents")["id"]

    def announced() -> str | None:  # posted after the card, by its own request: wait for it
        text = world.slack.transcript(incidents)
        return text if f"#{channel.name}" in text else None

    announcements = wait_for("the announcement", announced)
    assert SERVICE in announcements

    # Dry run first: nothing changes until the confirmation.
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    plan = alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert "Nothing has changed yet" in world.slack.transcript(channel.id)
    assert "v1.2.4" in str(plan["blocks"])
    assert live_image(world).endswith(":v1.2.5")

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=120)
    assert "is back on v1.2.4" in done["text"], done["text"]
    assert live_image(world).endswith(":v1.2.4")
    history = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(world.kubeconfig),
            "rollout",
            "history",
            f"deploy/{SERVICE}",
            "-n",
            "shopping",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "4         deploy v1.2.4: faster cart totals" in history, history

    # The card was updated in place: steps done, and it now offers Resolve.
    updated = alice.message_with(channel.id, ActionId.RESOLVE)
    assert updated["ts"] == pinned["ts"] and updated.get("edited")
    # "Live now" is read from the cluster again after the rollback, not kept from declare time.
    def live_now() -> str:
        card = json.dumps(alice.message_with(channel.id, ActionId.RESOLVE)["blocks"], ensure_ascii=False)
        return card.split("*Live now:* ", 1)[1].split(" · deploy", 1)[0]

    bot.wait_for("the card to show the rolled-back revision as live", lambda: live_now() == "rev 4 · `v1.2.4`", 20)

    # Resolve: the modal, then the postmortem uploaded to the channel.
    alice.type("resolve", channel_id=channel.id)
    alice.submit(
        alice.modal(CallbackId.RESOLVE),
        {
            RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "The new payment client timed out under load."},
            RESOLVE_IMPACT: {RESOLVE_IMPACT: "30% of checkouts failed."},
            RESOLVE_LESSONS: {RESOLVE_LESSONS: "Canary payment changes."},
            action_item_block(1, "text"): {action_item_block(1, "text"): "Add a payments canary"},
            action_item_block(1, "owner"): {action_item_block(1, "owner"): OWNER},
            action_item_block(1, "due"): {action_item_block(1, "due"): "2026-12-01"},
        },
    )
    files = wait_for("the postmortem upload", lambda: world.slack.files(channel.id), 20)
    markdown = files[-1]["content"].decode()
    order = [
        "## Summary",
        "## Impact",
        "## Root cause",
        "## Timeline",
        "## Lessons learned",
        "## Action items",
    ]
    positions = [markdown.index(section) for section in order]
    assert positions == sorted(positions)
    assert "v1.2.5 -> v1.2.4 (rollback)" in markdown
    assert "- [ ] Add a payments canary" in markdown and "due 2026-12-01" in markdown
    assert "The new payment client timed out under load." in markdown

    # The timeline, in order, with who did what.
    from bot.incidents.cards import incident_in_channel
    from bot.state import timeline

    incident = incident_in_channel(bot.rt, channel.id)
    kinds = [e.kind for e in timeline.events(bot.rt.db, incident.id)]
    expected = [
        "declared",
        "assessed",
        "plan",
        "decision",
        "rollback_started",
        "patched",
        "progress",
        "rolled_out",
        "verified",
        "resolved",
    ]
    assert set(expected) <= set(kinds), kinds
    assert [k for k in dict.fromkeys(kinds) if k in expected] == expected, kinds
    events = timeline.events(bot.rt.db, incident.id)
    assert next(e for e in events if e.kind == "decision").actor == ONCALL
    assert [e.at for e in events] == sorted(e.at for e in events)

    # `rollback-bot report` prints the same markdown.
    env = {**os.environ, **world.env()}
    report = subprocess.run(
        [sys.executable, "-m", "bot.cli", "report", incident.key],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    assert report.stdout == markdown
