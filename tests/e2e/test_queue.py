"""Six services fail at once and the worker has four slots: the two rollbacks that wait for a slot are never
expired, their cards say how many rollbacks they wait behind, and all six complete."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.scenario import load_scenario
from bot.sandbox.world import ONCALL, World
from bot.slack.views import ActionId
from bot.state import timeline
from bot.state.models import RollbackRun
from bot.worker import Worker
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_strategies import OUTCOMES, prefix
from tests.e2e.test_verification import card_versions, final_card
from tests.support import need_binary

SCENARIO = Path(__file__).parent.parent / "scenarios" / "six_services.yaml"
SERVICES = ("cart", "search", "inventory", "shipping", "reviews", "accounts")
SLOTS = 4
# The worker would expire a run left pending this long with no worker running (10 minutes by default):
# far shorter than a queued run waits here behind four rollbacks.
PENDING_FOR = dt.timedelta(seconds=3)


@pytest.fixture
def world():
    need_binary("prometheus")
    with World(load_scenario(SCENARIO), prometheus=True, catalog_overrides=QUICK_BAKE) as w:
        yield w


@pytest.fixture
def bot(world):
    with BotHarness(world, worker=False) as harness:
        worker = Worker(
            harness.rt, lease_seconds=10, poll_seconds=0.2, max_parallel=SLOTS,
            pending_minutes=PENDING_FOR.total_seconds() / 60,
        )
        worker.start_thread()
        try:
            yield harness
        finally:
            worker.stop()


def the_run(bot: BotHarness, service: str) -> RollbackRun:
    query = select(RollbackRun).where(RollbackRun.service == service)
    return bot.rt.db.transaction(lambda s: s.scalars(query).one())


def most_at_once(spans: list[tuple[dt.datetime, dt.datetime]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_six_rollbacks_with_four_slots_all_complete_and_the_queued_ones_say_so(world, bot):
    alice = OnCall(bot, ONCALL)
    channels = {}
    for name in SERVICES:
        alice.type(f"{name} errors")
        channels[name] = alice.channel(prefix(name)).id
    for name in SERVICES:
        alice.click(channels[name], ActionId.ROLLBACK_PREVIOUS)
    for name in SERVICES:  # six Confirms in a row: four rollbacks start, two wait for a slot
        alice.click(channels[name], ActionId.CONFIRM_ROLLBACK)

    for name in SERVICES:
        done = alice.message_saying(channels[name], *OUTCOMES, "did not start", timeout=180)
        assert f"{name} is back on v1* and verified" in done["text"], done["text"]

    ended = {name: the_run(bot, name) for name in SERVICES}
    assert {name: run.status for name, run in ended.items()} == {name: "verified" for name in SERVICES}
    for name in SERVICES:
        kinds = [e.kind for e in timeline.events(bot.rt.db, incident_in_channel(bot.rt, channels[name]).id)]
        assert "rollback_expired" not in kinds, kinds
    assert most_at_once([(r.started_at, r.finished_at) for r in ended.values()]) == SLOTS

    first_done = min(run.finished_at for run in ended.values())
    waited = [name for name, run in ended.items() if run.started_at >= first_done]  # for a free slot
    assert len(waited) == len(SERVICES) - SLOTS
    for name in waited:
        assert ended[name].started_at - ended[name].created_at > PENDING_FOR, "waited longer than the expiry"
        versions = card_versions(world, bot, channels[name])
        queued = [i for i, v in enumerate(versions) if re.search(r"Queued behind [4-5] rollbacks", v)]
        assert queued, f"the card of {name} never said it was queued: {versions}"
        assert "does not expire while the workers are busy" in versions[queued[0]]
        assert "Queued behind" not in final_card(world, bot, channels[name], "Rolled back to")
