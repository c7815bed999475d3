"""Blue-green traffic safety end to end (signed Slack requests, the simulator, the worker): an old *Delete*
button re-reads what is live, and a switch cut short between its two writes, by a failed route patch or a
crashed worker, is described exactly and finished."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from kubernetes import client, config

from bot.incidents.cards import incident_in_channel, latest_run
from bot.providers.kubernetes.api import Call
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, ONCALL, OWNER, World
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_LESSONS, RESOLVE_ROOT_CAUSE, ActionId, CallbackId
from bot.state import runs, timeline
from bot.strategies.base import plan_from_json
from bot.worker import Worker
from tests.e2e.conftest import QUICK_BAKE
from tests.support import need_binary

NS = SERVICE = "storefront"
GREEN = "storefront-green"


def prefix() -> str:
    return f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}"


def api(world: World) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(world.kubeconfig))


def select(world: World, colour: str) -> None:
    """A person (or a later incident) points the Service at ``colour``."""
    client.CoreV1Api(api(world)).patch_namespaced_service(SERVICE, NS, {"spec": {"selector": {"version": colour}}})


def route(world: World, colour: str) -> None:
    """A person points the VirtualService's route at ``colour`` (a JSON Patch)."""
    op = [{"op": "replace", "path": "/spec/http/0/route/0/destination/subset", "value": colour}]
    client.CustomObjectsApi(api(world)).patch_namespaced_custom_object(
        "networking.istio.io", "v1", NS, "virtualservices", SERVICE, op, _content_type="application/json-patch+json"
    )


def where(world: World) -> tuple[str, str]:
    """(the colour the Service selects, the colour the VirtualService routes to)."""
    svc = client.CoreV1Api(api(world)).read_namespaced_service(SERVICE, NS)
    vs = client.CustomObjectsApi(api(world)).get_namespaced_custom_object(
        "networking.istio.io", "v1", NS, "virtualservices", SERVICE
    )
    return svc.spec.selector["version"], vs["spec"]["http"][0]["route"][0]["destination"]["subset"]


def deployments(world: World) -> list[str]:
    return [d.metadata.name for d in client.AppsV1Api(api(world)).list_namespaced_deployment(NS).items]


def answer_to(bot: BotHarness, person: OnCall, click: ActionId, channel_id: str) -> str:
    """``person`` clicks; the private answer they get."""
    seen = len([r for r in bot.world.slack.responses() if r.get("user") == person.user])
    person.click(channel_id, click)

    def probe():
        answers = [r.get("text", "") for r in bot.world.slack.responses() if r.get("user") == person.user]
        return answers[seen] if len(answers) > seen else None

    return bot.wait_for(f"the answer to {person.user}'s click", probe, 20)


# ------------------------------------------------------------------------------ Delete re-reads the cluster


@pytest.fixture
def delete_world():
    need_binary("prometheus")
    with World(prometheus=True, catalog_overrides={**QUICK_BAKE, "blue_green": {"after_switch": "delete"}}) as w:
        yield w


@pytest.fixture
def delete_bot(delete_world):
    with BotHarness(delete_world) as h:
        yield h


def test_an_old_delete_button_refuses_a_colour_that_is_live_again(delete_world, delete_bot):
    world, bot = delete_world, delete_bot
    alice, carol, owen = OnCall(bot, ONCALL), OnCall(bot, LEAD), OnCall(bot, OWNER)
    alice.type("storefront images broken")
    channel = alice.channel(prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    carol.click(channel.id, ActionId.CONFIRM_ROLLBACK)  # alice asked, carol confirmed: both took part
    done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", "could NOT verify", timeout=120)
    assert "is back on v2.0.1" in done["text"] and "a second person" in done["text"], done["text"]
    alice.message_with(channel.id, ActionId.DELETE_RELEASE)

    said = answer_to(bot, carol, ActionId.DELETE_RELEASE, channel.id)
    assert "needs a second person, and you took part in this rollback" in said, said

    select(world, "green")  # later, someone sends the traffic back to green
    said = answer_to(bot, owen, ActionId.DELETE_RELEASE, channel.id)
    assert f"{GREEN} serves traffic again (Service storefront selects version=green)" in said, said
    assert "Nothing was changed" in said and GREEN in deployments(world)

    select(world, "blue")
    route(world, "green")  # the Service is back on blue, but the mesh routes to green
    said = answer_to(bot, owen, ActionId.DELETE_RELEASE, channel.id)
    assert "VirtualService storefront sends traffic to subset green" in said, said
    assert GREEN in deployments(world)

    route(world, "blue")
    resolve(bot, alice, channel.id)
    said = answer_to(bot, owen, ActionId.DELETE_RELEASE, channel.id)
    assert "is resolved" in said and "Nothing was changed" in said, said
    assert GREEN in deployments(world)

    incident = incident_in_channel(bot.rt, channel.id)
    audits = bot.wait_for(
        "the four refusals on the record",
        lambda: [e for e in timeline.events(bot.rt.db, incident.id) if e.kind == "audit" and GREEN in e.text][3:],
    )
    assert audits and "release_deleted" not in {e.kind for e in timeline.events(bot.rt.db, incident.id)}


def resolve(bot: BotHarness, alice: OnCall, channel_id: str) -> None:
    alice.type("resolve", channel_id=channel_id)
    alice.submit(
        alice.modal(CallbackId.RESOLVE),
        {
            RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "A bad image CDN."},
            RESOLVE_IMPACT: {RESOLVE_IMPACT: "Broken images."},
            RESOLVE_LESSONS: {RESOLVE_LESSONS: "Canary the CDN."},
        },
    )
    bot.wait_for("the incident to close", lambda: incident_in_channel(bot.rt, channel_id).status == "resolved")


# ------------------------------------------------------------------------------ a switch cut short


def test_a_failed_route_patch_is_described_exactly_and_finish_the_switch_finishes_it(world, bot, alice):
    faults = world.k8s_faults
    alice.type("storefront images broken")
    channel = alice.channel(prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    stalled = faults.add(500, verb="patch", resource="virtualservices", delay=60)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    bot.wait_for("the route patch, after the selector's", lambda: stalled.hits, 60)
    faults.add(500, verb="patch", resource="services")  # the selector cannot be put back either
    faults.remove(stalled)  # the stalled route patch is answered: 500

    failed = alice.message_saying(channel.id, "FAILED at switch traffic", timeout=60)
    faults.clear()
    assert "traffic is half-switched: Service selects blue, mesh routes green; switching the Service back to " \
        "green failed too" in failed["text"], failed["text"]
    assert where(world) == ("blue", "green")
    card = json.dumps(alice.message_with(channel.id, ActionId.FINISH_SWITCH)["blocks"])
    assert "traffic half-switched: Service selects blue, mesh routes green" in card
    assert "Finish the switch to blue" in card

    first = latest_run(bot.rt, incident_in_channel(bot.rt, channel.id).id)
    alice.click(channel.id, ActionId.FINISH_SWITCH)
    plan = alice.message_saying(channel.id, "this plan finishes the switch to blue", timeout=20)
    shown = json.dumps(plan["blocks"], ensure_ascii=False)
    assert "keep Service storefront selector version: blue (it is there already)" in shown
    assert "switch VirtualService storefront route subset: green → blue" in shown
    assert "Finish the switch to green instead" in shown  # either colour
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    second = bot.wait_for("the second run to end", lambda: ended_after(bot, channel.id, first.id), 90)
    assert second.status in ("verified", "could_not_verify"), (second.status, second.error)
    assert where(world) == ("blue", "blue")


def ended_after(bot: BotHarness, channel_id: str, run_id: int):
    run = latest_run(bot.rt, incident_in_channel(bot.rt, channel_id).id)
    return run if run.id != run_id and run.status not in ("pending", "running") else None


@pytest.fixture
def bot_without_worker(world):
    with BotHarness(world, worker=False) as h:
        yield h


@pytest.mark.prometheus
def test_a_run_resumed_after_a_crash_between_the_two_patches_finishes_the_switch(world, bot_without_worker):
    bot = bot_without_worker
    alice = OnCall(bot, ONCALL)
    alice.type("storefront images broken")
    channel = alice.channel(prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "started the rollback", timeout=10)

    # Replica A claims the run, makes blue ready, switches the selector, and dies before the route patch.
    db = bot.rt.db
    run = wait_for("the run", lambda: runs.claim(db, "replica-a", lease_seconds=1), 5)
    strategy, plan = bot.rt.strategy_for(bot.rt.catalog.get(SERVICE)), plan_from_json(run.plan)
    for step in ("pre-checks", "backup", "suspend sync"):
        runs.step(db, run.id, step, "done")
    strategy.prepare(plan, lambda p: None, 600)
    runs.step(db, run.id, "prepare", "done")
    runs.step(db, run.id, "switch traffic", "running")
    strategy.api.write(Call("patch", "services", NS, SERVICE), [dict(op) for op in plan.operations])
    assert where(world) == ("blue", "green")

    # Replica B takes the run over once A's lease has run out, and finishes the switch.
    replica_b = Worker(bot.rt, worker_id="replica-b", lease_seconds=5)
    wait_for("replica B to claim the expired run", replica_b.claim_and_start, 10, interval=0.3)
    done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", "could NOT verify", timeout=120)
    replica_b.stop()
    assert "is back on v2.0.1" in done["text"] and "and verified" in done["text"], done["text"]
    assert where(world) == ("blue", "blue")
    assert "nothing was rolled back" not in world.slack.transcript(channel.id).lower()
    kinds = [e.kind for e in timeline.events(db, incident_in_channel(bot.rt, channel.id).id)]
    assert "rollback_resumed" in kinds and kinds.count("patched") == 1
