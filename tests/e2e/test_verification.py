"""Verification after a rollback, with real Prometheus: the example catalog's defaults verify a good rollback,
a release that turns bad during the bake fails it, and a Prometheus that dies cannot verify it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_api_client import PrometheusConnect

from bot.config import Analysis
from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, ONCALL, OWNER, World
from bot.slack.views import ActionId
from bot.state import timeline
from tests.e2e.conftest import SERVICE, channel_prefix
from tests.support import need_binary

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "services.example.yaml"
GOOD = "registry.local/shopping-service:v1.2.4"
OUTCOMES = ("is back on", "NOT healthy")
CHECK_PASSED = re.compile(r"check \d+/\d+: 5xx [\d.]+% ✓ · p95 [\d.]+ s ✓")


def example_catalog_for(world: World, path: Path) -> Path:
    """config/services.example.yaml with only the sandbox's URL, namespace and people filled in."""
    catalog = yaml.safe_load(EXAMPLE.read_text())
    spec = catalog["services"][SERVICE]
    spec["health_url"] = f"{world.services[SERVICE].url}/actuator/health"
    spec["namespace"] = world.scenario.service(SERVICE).namespace
    spec["owners"], spec["rollback_allowed"], spec["escalation"] = [OWNER], [ONCALL, OWNER], LEAD
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


def roll_back(alice: OnCall):
    alice.type(f"{SERVICE} checkout errors spiking")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    return channel


def card_versions(world: World, bot: BotHarness, channel_id: str) -> list[str]:
    """Every version of the pinned card, oldest first, as text."""
    _, card = world.slack.find_message(incident_in_channel(bot.rt, channel_id).card_ts, channel_id)
    return [json.dumps(v["blocks"], ensure_ascii=False) for v in [*card.get("previous", []), card]]


def final_card(world: World, bot: BotHarness, channel_id: str, outcome: str) -> str:
    """The card's last version once it shows ``outcome``: the card is refreshed after the outcome message
    (throttled), so a read right after that message may still see the card of the bake."""

    def last() -> str | None:
        card = card_versions(world, bot, channel_id)[-1]
        return card if outcome in card else None

    return bot.wait_for(f"the card to show {outcome!r}", last, 30)


def passed_a_check(world: World, bot: BotHarness, channel_id: str) -> bool:
    return any(map(CHECK_PASSED.search, card_versions(world, bot, channel_id)))


def kinds(bot: BotHarness, channel_id: str) -> list[str]:
    return [e.kind for e in timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel_id).id)]


@pytest.fixture
def prometheus_world():
    need_binary("prometheus")
    with World(prometheus=True) as world:
        yield world


@pytest.mark.prometheus
def test_the_example_catalog_verifies_a_good_rollback(prometheus_world, tmp_path):
    world = prometheus_world
    catalog = example_catalog_for(world, tmp_path / "services.yaml")
    with BotHarness(world, env={"ROLLBACK_BOT_CONFIG": str(catalog)}) as bot:
        service = bot.rt.catalog.get(SERVICE)
        assert service.window == "5m" and service.analysis == Analysis(), "the example's defaults, untouched"
        alice = OnCall(bot, ONCALL)
        channel = roll_back(alice)
        done = alice.message_saying(channel.id, *OUTCOMES, timeout=150)
        assert "is back on v1.2.4* and verified: 4 checks in a row over 1m" in done["text"], done["text"]

        # The first check read only v1.2.4's traffic; the catalog's 5m detection window, read at that
        # moment, still held v1.2.5's 30% 5xx and would have failed this good rollback.
        events = timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel.id).id)
        first_check = next(e for e in events if e.kind == "rolled_out").at.timestamp() + 15
        old_way = PrometheusConnect(world.prometheus.url).custom_query(
            service.query("http_5xx_rate"), params={"time": first_check}
        )
        assert float(old_way[0]["value"][1]) > service.thresholds.http_5xx_rate
        found = kinds(bot, channel.id)
        assert found.index("rolled_out") < found.index("verified") and "verification_failed" not in found
        # The card showed the analysis live, check by check, then the result.
        shown = card_versions(world, bot, channel.id)
        for n in (1, 2, 3):
            assert any(re.search(rf"check {n}/4: 5xx [\d.]+% ✓ · p95 [\d.]+ s ✓", v) for v in shown), n
        assert "Verification passed" in final_card(world, bot, channel.id, "Verification passed")


@pytest.mark.prometheus
def test_a_release_that_turns_bad_during_the_bake_fails_verification(tmp_path):
    need_binary("prometheus")
    long_bake = {"analysis": {"interval": "5s", "bake": "20s", "failure_limit": 2}}
    with World(prometheus=True, catalog_overrides=long_bake) as world, BotHarness(world) as bot:
        alice = OnCall(bot, ONCALL)
        channel = roll_back(alice)
        wait_for("a passed check on the card", lambda: passed_a_check(world, bot, channel.id), 60)
        world.mark_image(GOOD, error_rate=0.3)  # v1.2.4 now answers 30% 5xx too

        failed = alice.message_saying(channel.id, *OUTCOMES, timeout=60)
        assert "went out, but the service is NOT healthy" in failed["text"], failed["text"]
        assert "VERIFICATION FAILED" in json.dumps(failed["blocks"])
        found = kinds(bot, channel.id)
        assert "verification_failed" in found and "verified" not in found
        alice.message_with(channel.id, ActionId.SCALE_TO_ZERO)  # the card offers the emergency actions


@pytest.mark.prometheus
def test_prometheus_dying_during_the_bake_cannot_verify(tmp_path):
    need_binary("prometheus")
    long_bake = {"analysis": {"interval": "5s", "bake": "20s"}}
    with World(prometheus=True, catalog_overrides=long_bake) as world, BotHarness(world) as bot:
        alice = OnCall(bot, ONCALL)
        channel = roll_back(alice)
        wait_for("a passed check on the card", lambda: passed_a_check(world, bot, channel.id), 60)
        world.prometheus.stop()  # the real process, gone mid-bake

        told = alice.message_saying(channel.id, *OUTCOMES, timeout=90)
        text = told["text"]
        assert "is back on v1.2.4, but I could NOT verify that it is healthy" in text, text
        assert "Prometheus did not answer" in text
        assert f"kubectl rollout status deployment/{SERVICE} -n shopping" in text
        assert world.services[SERVICE].url in text  # the health URL to check by hand
        found = kinds(bot, channel.id)
        assert "could_not_verify" in found and "verified" not in found
        card = final_card(world, bot, channel.id, "could NOT verify")
        assert "Verification passed" not in card
        alice.message_with(channel.id, ActionId.RESOLVE)  # resolving stays possible once checked by hand
