"""Without CONFIG_FINGERPRINT_KEY the bot tracks no Secret, and says so: at start, in `/rollback config`, and
in the config plan; the ConfigMap's history and its rollback are unaffected."""

from __future__ import annotations

import pytest

from bot.slack.views import ActionId
from bot.state.models import ConfigVersion
from tests.e2e.test_strategies import prefix

UNSET = "Secret versions are not tracked because CONFIG_FINGERPRINT_KEY is unset"


def recorded(bot) -> list[tuple[str, str]]:
    rows = bot.rt.db.transaction(lambda s: list(s.query(ConfigVersion).order_by(ConfigVersion.id)))
    return [(v.kind, v.name) for v in rows]


@pytest.mark.bot_env({"CONFIG_FINGERPRINT_KEY": ""})
def test_without_the_key_no_secret_is_tracked_and_the_on_call_is_told_why(world, bot, alice, caplog):
    assert any(UNSET in r.getMessage() for r in caplog.get_records("setup")), "a log line at start"
    bot.wait_for("the tracker to record pricing-config", lambda: ("ConfigMap", "pricing-config") in recorded(bot))
    world.apply_config_change("pricing")
    bot.wait_for("the tracker to record the change", lambda: recorded(bot).count(("ConfigMap", "pricing-config")) == 2)

    alice.type("config pricing")
    listed = bot.wait_for("the versions", lambda: [r for r in world.slack.responses() if "pricing-config" in str(r)])
    text = " ".join(b.get("text", {}).get("text", "") for b in listed[-1]["blocks"])
    assert 'PRICE_SOURCE: "catalog-api" → "legacy-api"' in text, "the ConfigMap history is unaffected"
    secret = text.split("Secret pricing-credentials", 1)[1]
    assert UNSET in secret and "CONFIG_FINGERPRINT_KEY to a random value" in secret, text

    alice.type("pricing quotes failing")
    channel = alice.channel(prefix("pricing"))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert 'ConfigMap pricing-config back to version 1: PRICE_SOURCE: "legacy-api" → "catalog-api"' in plan
    assert f"Secret pricing-credentials (config.secrets) is left as it is. {UNSET}" in plan
    assert not [r for r in recorded(bot) if r[0] == "Secret"], "no Secret version, no Secret hash stored"
