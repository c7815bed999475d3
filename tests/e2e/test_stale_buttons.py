"""Buttons remember the world as it was when they were posted. A click on an earlier run's message, on a card
a phone had not refreshed, or in an incident that has closed, is answered with what is true now, is audited,
and changes nothing: no scaling, no page, no plan, no sync turned back on, no hold undoing *Go to 0 now*.

One world for the module (two services that never meet): cart, managed by Argo CD, whose first rollback fails
its verification and whose second is verified; checkout, a canary whose step-down is held and sent to 0.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from kubernetes import client, config

from bot.incidents.cards import incident_in_channel, latest_run
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.scenario import load_scenario
from bot.sandbox.world import LEAD, ONCALL, World
from bot.slack.views import ActionId
from bot.state import runs, timeline
from bot.state.models import Incident, PlanRow, RollbackRun
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_safety import count, replies_to
from tests.e2e.test_state_machine import resolve
from tests.e2e.test_strategies import OUTCOMES, custom, prefix
from tests.support import need_binary

SCENARIO = Path(__file__).parent.parent / "scenarios" / "stale_buttons.yaml"


@pytest.fixture(scope="module")
def world():
    need_binary("prometheus")
    overrides = {**QUICK_BAKE, "canary": {"step_pause": "3s"}}
    with World(load_scenario(SCENARIO), prometheus=True, catalog_overrides=overrides) as w:
        yield w


@pytest.fixture(scope="module")
def bot(world):
    with BotHarness(world) as h:
        yield h


def apps(world: World) -> client.AppsV1Api:
    return client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))


def application(world: World) -> dict:
    api = client.CustomObjectsApi(config.new_client_from_config(config_file=str(world.kubeconfig)))
    return api.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "cart")


def cart(world: World) -> tuple[int, str]:
    deployment = apps(world).read_namespaced_deployment("cart", "cart")
    return deployment.spec.replicas, deployment.spec.template.spec.containers[0].image


def option(message: dict, action_id: str, shows: str) -> str:
    """The value of the option of select ``action_id`` whose text shows ``shows``."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return next(o["value"] for o in element["options"] if shows in o["text"]["text"])
    raise AssertionError(f"no {action_id} showing {shows!r}")


class Screen:
    """A person whose screen still shows a message as it was when captured: their clicks use that version."""

    def __init__(self, bot: BotHarness, user: str, channel_id: str) -> None:
        self.bot, self.user, self.channel_id = bot, user, channel_id

    def click(self, message: dict, action_id: str, selected: str | None = None) -> str:
        """Click an element of that old version; the private answer."""
        n = len(replies_to(self.bot.world, self.user)) + 1
        response = self.bot.driver.click(
            self.user, message, action_id, selected_option=selected, channel_id=self.channel_id, as_seen=True
        )
        assert response.status_code == 200, response.text
        return wait_for(f"answer {n}", lambda: (r := replies_to(self.bot.world, self.user)) and len(r) >= n and r)[-1]


def stale_audits(bot: BotHarness, incident_id: int, n: int) -> list:
    def found():  # the refusal is answered first, then recorded
        events = [e for e in timeline.events(bot.rt.db, incident_id) if e.kind == "audit" and e.data.get("stale")]
        return events if len(events) >= n else None

    return bot.wait_for(f"{n} stale clicks audited", found, 10)


def test_an_earlier_runs_buttons_and_a_closed_incidents_change_nothing(world, bot):
    alice = OnCall(bot, ONCALL)
    alice.type("cart basket errors")
    channel = alice.channel(prefix("cart"))
    screen = Screen(bot, ONCALL, channel.id)
    before_any_run = copy.deepcopy(alice.message_with(channel.id, ActionId.CHOOSE_REVISION))

    # Run 1 goes to v2, which is bad too: its verification fails, the card offers the emergency actions.
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "went out, but the service is NOT healthy", timeout=120)
    failed_card = copy.deepcopy(alice.message_with(channel.id, ActionId.SCALE_TO_ZERO))
    sync_message = copy.deepcopy(alice.message_with(channel.id, ActionId.RESUME_SYNC))  # run 1's
    incident = incident_in_channel(bot.rt, channel.id)
    run_1 = latest_run(bot.rt, incident.id).id

    # Run 2, to v1, from the run-1 card's picker (still current: nothing refused).
    alice.click(channel.id, ActionId.CHOOSE_REVISION, option(failed_card, ActionId.CHOOSE_REVISION, "v1"))
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    run_2 = wait_for("run 2 to run", lambda: (r := latest_run(bot.rt, incident.id)).status == "running" and r.id)
    said = screen.click(sync_message, ActionId.RESUME_SYNC)
    assert f"A rollback (run {run_2}) is running: sync stays off until it ends; nothing was changed" in said, said
    assert "automated" not in (application(world)["spec"].get("syncPolicy") or {}), "Argo CD stays suspended"
    alice.message_saying(channel.id, "is back on", timeout=120)
    wait_for("the card of run 2", lambda: runs.get_run(bot.rt.db, run_2).status == "verified")

    # The run-1 card, on a phone that had not refreshed: every emergency action is refused.
    plans_before, runs_before = count(bot, PlanRow), count(bot, RollbackRun)
    earlier = f"This button belongs to an earlier rollback (run {run_1}); the latest rollback (run {run_2}) is verified"
    for action_id, selected in (
        (ActionId.SCALE_TO_ZERO, None),
        (ActionId.PAGE_ESCALATION, None),
        (ActionId.CHOOSE_REVISION, option(failed_card, ActionId.CHOOSE_REVISION, "v3")),
    ):
        said = screen.click(failed_card, action_id, selected)
        assert earlier in said and "nothing was changed" in said and "Use the buttons on the newest" in said, said
    for action_id, selected in (
        (ActionId.ROLLBACK_PREVIOUS, None),
        (ActionId.CHOOSE_REVISION, option(before_any_run, ActionId.CHOOSE_REVISION, "v1")),
    ):
        said = screen.click(before_any_run, action_id, selected)
        assert f"posted before the latest rollback; the latest rollback (run {run_2}) is verified" in said, said
    assert cart(world) == (2, "registry.local/cart:v1"), "nothing scaled, nothing rolled back"
    assert LEAD not in world.slack.channel_by_name(channel.name)["members"], "nobody paged"
    assert (count(bot, PlanRow), count(bot, RollbackRun)) == (plans_before, runs_before), "no plan, no run"
    transcript = world.slack.transcript(channel.id)
    assert "needs you (" not in transcript and "scaled cart to zero" not in transcript

    # Resolved: the earlier buttons say when and by whom, and that sync is still off.
    resolve(alice, channel.id)
    alice.message_saying(channel.id, "is resolved", timeout=30)
    resolved_at = bot.rt.db.transaction(lambda s: s.get(Incident, incident.id)).resolved_at
    at = f"<!date^{int(resolved_at.timestamp())}^{{time}}|{resolved_at:%H:%M} UTC>"  # each reader's own time zone
    closed = f"{incident.key} was resolved at {at} by <@{ONCALL}>; nothing was changed"
    said = screen.click(sync_message, ActionId.RESUME_SYNC)
    assert closed in said and "Sync of the Argo CD Application argocd/cart is still suspended" in said, said
    said = screen.click(failed_card, ActionId.SCALE_TO_ZERO)
    assert closed in said and "Declare a new incident with `/rollback cart` and a reason" in said, said
    assert "automated" not in (application(world)["spec"].get("syncPolicy") or {}), "sync stays off"
    assert cart(world) == (2, "registry.local/cart:v1")

    audits = stale_audits(bot, incident.id, 8)
    assert len(audits) == 8 and {e.actor for e in audits} == {ONCALL}
    assert "was refused: scale to zero (a button of an earlier state" in audits[1].text


def test_a_stale_hold_never_undoes_go_to_zero(world, bot):
    alice, carol = OnCall(bot, ONCALL), OnCall(bot, LEAD)
    alice.type("checkout tax errors")
    channel = alice.channel(prefix("checkout"))
    screen = Screen(bot, ONCALL, channel.id)
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)

    def weight() -> int:
        return custom(world, "checkout", "checkout")["spec"]["http"][0]["route"][1]["weight"]

    wait_for("the first step", lambda: weight() <= 75, timeout=60)
    stepping = copy.deepcopy(alice.message_with(channel.id, ActionId.HOLD_STEP_DOWN))
    carol.click(channel.id, ActionId.HOLD_STEP_DOWN)
    held = copy.deepcopy(alice.message_with(channel.id, ActionId.RESUME_STEP_DOWN))
    carol.click(channel.id, ActionId.GO_TO_ZERO)
    incident = incident_in_channel(bot.rt, channel.id)
    run = latest_run(bot.rt, incident.id).id
    wait_for("Go to 0 now", lambda: runs.control_of(bot.rt.db, run) == ("zero", LEAD))

    # alice's screen still shows the card from before: Hold, then (held) Resume.
    for message, action_id in ((stepping, ActionId.HOLD_STEP_DOWN), (held, ActionId.RESUME_STEP_DOWN)):
        said = screen.click(message, action_id)
        assert f"<@{LEAD}> already sent all of checkout's traffic to the stable release (*Go to 0 now*)" in said, said
        assert f"the rollback (run {run})" in said and "nothing was changed" in said, said
        assert runs.control_of(bot.rt.db, run) == ("zero", LEAD), "the stale click changed nothing"

    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on v3.4.0" in done["text"], done["text"]
    assert weight() == 0
    assert f"<@{ONCALL}> held" not in world.slack.transcript(channel.id)
    assert f"<@{ONCALL}> resumed" not in world.slack.transcript(channel.id)
    assert len(stale_audits(bot, incident.id, 2)) == 2
