"""Blue-green and canary incidents end to end over signed Slack requests, the simulator and real Prometheus:
the plan, Confirm, progress on the card, the analysis, and the postmortem's strategy section."""

from __future__ import annotations

import datetime as dt

import pytest
from kubernetes import client, config

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, World
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_LESSONS, RESOLVE_ROOT_CAUSE, ActionId, CallbackId
from bot.state import config_versions, timeline
from tests.e2e.conftest import QUICK_BAKE
from tests.support import need_binary

OUTCOMES = ("is back on", "FAILED", "NOT healthy", "could not be verified")


def prefix(service: str) -> str:
    return f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{service}"


def custom(world: World, namespace: str, name: str) -> dict:
    api = client.CustomObjectsApi(config.new_client_from_config(config_file=str(world.kubeconfig)))
    return api.get_namespaced_custom_object("networking.istio.io", "v1", namespace, "virtualservices", name)


def core(world: World) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))


def kinds(bot: BotHarness, channel_id: str) -> list[str]:
    incident = incident_in_channel(bot.rt, channel_id)
    return [e.kind for e in timeline.events(bot.rt.db, incident.id)]


def postmortem(world: World, alice: OnCall, channel_id: str) -> str:
    """Resolve with the modal's required fields; the uploaded postmortem's markdown."""
    alice.type("resolve", channel_id=channel_id)
    alice.submit(
        alice.modal(CallbackId.RESOLVE),
        {
            RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "A bad release."},
            RESOLVE_IMPACT: {RESOLVE_IMPACT: "Errors for some users."},
            RESOLVE_LESSONS: {RESOLVE_LESSONS: "Watch the release."},
        },
    )
    files = wait_for("the postmortem upload", lambda: world.slack.files(channel_id), 20)
    return files[-1]["content"].decode()


@pytest.fixture
def world():
    need_binary("prometheus")
    overrides = {**QUICK_BAKE, "canary": {"step_pause": "3s"}, "blue_green": {"after_switch": "scale_to_zero"}}
    with World(prometheus=True, catalog_overrides=overrides) as w:
        yield w


def test_blue_green_switches_back_to_the_good_colour(world, bot, alice):
    alice.type("storefront images broken")
    channel = alice.channel(prefix("storefront"))
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    card = world.slack.transcript(channel.id)
    assert "green" in card and "v2.1.0" in card and "blue" in card and "v2.0.1" in card

    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "Nothing has changed yet" in plan
    assert "scale storefront-blue from 0 to 3 replicas" in plan
    assert "switch Service storefront selector version: green → blue" in plan
    assert "switch VirtualService storefront route subset: green → blue" in plan
    assert core(world).read_namespaced_service("storefront", "storefront").spec.selector["version"] == "green"

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v2.0.1" in done["text"], done["text"]
    assert core(world).read_namespaced_service("storefront", "storefront").spec.selector["version"] == "blue"
    assert custom(world, "storefront", "storefront")["spec"]["http"][0]["route"][0]["destination"]["subset"] == "blue"
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    wait_for(
        "green scaled to 0",
        lambda: apps.read_namespaced_deployment("storefront-green", "storefront").spec.replicas == 0,
    )
    seen = kinds(bot, channel.id)
    for kind in ("prepared", "patched", "rolled_out", "verified", "after_switch"):
        assert kind in seen, seen

    markdown = postmortem(world, alice, channel.id)
    strategy = markdown.split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**blue-green**")
    assert "Traffic is on blue (v2.0.1)" in strategy and "storefront-green scaled to 0" in strategy


def test_canary_steps_down_and_go_to_zero_finishes_it(world, bot, alice):
    carol = OnCall(bot, LEAD)
    alice.type("checkout tax errors")
    channel = alice.channel(prefix("checkout"))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "80% → 75% → 50% → 25% → 10% → 0%" in plan and "Nothing has changed yet" in plan

    def canary_weight() -> int:
        return custom(world, "checkout", "checkout")["spec"]["http"][0]["route"][1]["weight"]

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    incident_id = incident_in_channel(bot.rt, channel.id).id

    def analysed_at_75() -> bool:
        steps = [e for e in timeline.events(bot.rt.db, incident_id) if e.kind == "canary_step"]
        return any((e.data or {}).get("weight") == 75 for e in steps)

    # The hold comes once the first step's analysis is recorded (a hold during its pause skips that reading).
    wait_for("the analysis at 75%", analysed_at_75, timeout=60)
    carol.click(channel.id, ActionId.HOLD_STEP_DOWN)
    alice.message_with(channel.id, ActionId.RESUME_STEP_DOWN)  # the card offers Resume while held
    held = wait_for("the hold to be seen", lambda: "held at" in world.slack.transcript(channel.id) and canary_weight())
    assert canary_weight() == held, "a held step-down stays at its weight"
    carol.click(channel.id, ActionId.GO_TO_ZERO)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v3.4.0" in done["text"], done["text"]
    assert canary_weight() == 0
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    wait_for(
        "the canary scaled to 0",
        lambda: apps.read_namespaced_deployment("checkout-canary", "checkout").spec.replicas == 0,
    )
    seen = kinds(bot, channel.id)
    for kind in ("canary_step", "canary_hold", "canary_zero", "rolled_out", "verified", "canary_removed"):
        assert kind in seen, seen
    strategy = postmortem(world, alice, channel.id).split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**canary**") and "Canary at 75% of traffic: 5xx" in strategy
    assert "sent the canary to 0%" in strategy and "checkout-canary scaled to 0" in strategy


def test_a_statefulset_is_rolled_back_through_its_controller_revisions(world, bot, alice):
    alice.type("ledger balance errors")
    channel = alice.channel(prefix("ledger"))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "image app: registry.local/ledger:v4.2.0 -> registry.local/ledger:v4.1.0" in plan
    assert "pods are replaced one at a time from the highest ordinal" in plan
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v4.1.0" in done["text"], done["text"]
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
    sts = apps.read_namespaced_stateful_set("ledger", "ledger")
    assert sts.spec.template.spec.containers[0].image == "registry.local/ledger:v4.1.0"
    assert sts.status.current_revision == sts.status.update_revision
    assert {"patched", "rolled_out", "verified"} <= set(kinds(bot, channel.id))


def test_a_bad_configmap_change_is_rolled_back_by_restoring_the_recorded_version(world, bot, alice):
    """The tracker sees pricing-config edited and the pods restarted; /rollback config shows the diff; the
    rollback writes version 1 back, restarts the pods and verifies, and the postmortem says what it restored."""

    def versions() -> list:
        return config_versions.versions(bot.rt.db, "pricing", "ConfigMap", "pricing-config")

    bot.wait_for("the tracker to record pricing-config", lambda: versions() or None)
    world.apply_config_change("pricing")
    bot.wait_for("the tracker to record the change", lambda: len(versions()) == 2 or None)
    assert versions()[1].changed_by == "kubectl-edit"

    alice.type("config pricing")
    listed = bot.wait_for("the versions", lambda: [r for r in world.slack.responses() if "pricing-config" in str(r)])
    text = " ".join(b.get("text", {}).get("text", "") for b in listed[-1]["blocks"])
    assert 'PRICE_SOURCE: "catalog-api" → "legacy-api"' in text
    assert "Secret pricing-credentials" in text and "sandbox-token" not in str(world.slack.responses())

    alice.type("pricing quotes failing")
    channel = alice.channel(prefix("pricing"))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "Nothing has changed yet" in plan
    assert 'ConfigMap pricing-config back to version 1: PRICE_SOURCE: "legacy-api" → "catalog-api"' in plan
    assert core(world).read_namespaced_config_map("pricing-config", "pricing").data["PRICE_SOURCE"] == "legacy-api"
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v1" in done["text"] and "verified" in done["text"], done["text"]
    assert core(world).read_namespaced_config_map("pricing-config", "pricing").data["PRICE_SOURCE"] == "catalog-api"
    assert {"patched", "rolled_out", "verified"} <= set(kinds(bot, channel.id))
    bot.wait_for("the tracker to record the restore", lambda: len(versions()) == 3 or None)  # its watch is async
    assert versions()[-1].changed_by == "rollback-bot", "the restore is recorded as the bot's change"
    strategy = postmortem(world, alice, channel.id).split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**config**") and 'PRICE_SOURCE: "legacy-api" → "catalog-api"' in strategy
