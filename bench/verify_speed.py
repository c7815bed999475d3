"""Time from "rollout complete" to "verified" of a real rollback, as a multiple of the configured bake.

Plays the default scenario on the sandbox (World + BotHarness, real Prometheus, the services
catalog's defaults: a check every 15s for a 1m bake): declare, roll back, confirm. Reads the
incident's timeline for the ``rolled_out`` and ``verified`` events and prints
``ratio=(verified - rolled_out) / bake`` against the target <= 1.25 (the bake itself is 1.0;
the rest is the checks' own time). Run: ``.venv/bin/python bench/verify_speed.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import ONCALL, World
from bot.slack.views import ActionId
from bot.state import timeline

SERVICE = "shopping-service"
TARGET = 1.25


def main() -> int:
    logging.disable(logging.INFO)
    with World(prometheus=True) as world, BotHarness(world) as bot:
        alice = OnCall(bot, ONCALL)
        alice.type(f"{SERVICE} checkout errors spiking")
        channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}")
        alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
        alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
        incident = wait_for("the incident", lambda: incident_in_channel(bot.rt, channel.id), 30)
        outcomes = ("verified", "verification_failed", "could_not_verify")

        def outcome():
            events = {e.kind: e for e in timeline.events(bot.rt.db, incident.id)}
            return next(((k, events) for k in outcomes if k in events), None)

        kind, events = wait_for("the verification outcome", outcome, 300, interval=0.2)
        bake = bot.rt.catalog.get(SERVICE).analysis.bake_seconds
    if kind != "verified":
        print(f"verification ended {kind}: {events[kind].text}")
        return 1
    seconds = (events["verified"].at - events["rolled_out"].at).total_seconds()
    ratio = seconds / bake
    print(f"rolled_out -> verified: {seconds:.1f} s; bake {bake} s")
    print(f"ratio={ratio:.2f}  target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
