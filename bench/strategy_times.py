"""Per strategy: time from the *Confirm* click to all traffic on the good release, against its physical floor.

For each strategy of the default scenario (kubernetes: shopping-service, statefulset: ledger, blue-green: storefront,
canary: checkout, config: pricing, whose ConfigMap is first edited and its pods restarted while the config
versions are recorded, aws-ecs: orders in moto, its deployment rolled by the sandbox's model, aws-alb: search behind
an ALB in moto, ``World(alb=True)``, its weights moved at once, swarm: basket in the
Engine API simulator, released to v1.2.5 first), in the same process:

- the floor: a fresh sandbox world of the same kind as the bot's (Prometheus scraping the services when installed:
  it costs the simulated pods time too) where the same change is made by calling the strategy's own operations
  directly, no bot: the rollout (or the idle colour's scale-up and ready time, or the
  canary's weights with the catalog's pause at each step) is all it measures;
- the bot: another fresh world with the bot served over HTTP (Slack emulator, real Prometheus when
  installed); declare, *Roll back to previous*, then the clock runs from the *Confirm* click until the
  timeline's ``rolled_out`` event (traffic on the good release).

Prints both, the runbooks' figures (K8s 2 min, blue-green 30 s, canary 5 min) and
``ratio = bot / floor`` against the target <= 1.2. A change of a second or two (blue-green, config) varies by half a
second from one world to the next (pod start times, the first Prometheus scrapes), so each side is measured
``--repeat`` times (3 by default) in fresh worlds and the ratio is of the medians; every sample is printed.
Run: ``.venv/bin/python bench/strategy_times.py [--repeat N] [strategy ...]``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import statistics
import sys
import time

from kubernetes import client, config

from bot.config import duration_seconds, load_catalog
from bot.incidents.cards import incident_in_channel
from bot.incidents.common import target
from bot.providers.clients import Clients
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import ONCALL, World
from bot.slack.views import ActionId
from bot.state import config_versions, timeline
from bot.state.db import Database
from bot.strategies import registry
from bot.strategies.capabilities import Router, capability
from bot.strategies.registry import BuildContext

TARGET = 1.2
CASES = (
    ("kubernetes", "shopping-service", 120),
    ("statefulset", "ledger", 120),
    ("blue-green", "storefront", 30),
    ("canary", "checkout", 300),
    ("config", "pricing", 120),
    ("aws-ecs", "orders", 120),  # no runbook figure of its own: the rollback deploy procedure's 2 min
    ("aws-alb", "search", 30),  # the runbook's "ALB target group update": a switch, like blue-green's 30 s
    ("swarm", "basket", 120),  # the same: `docker service rollback` in the rollback deploy procedure
)
BEHIND_ALB = {"search"}  # the services only a World(alb=True) has
SWARM = "basket"


def released(world: World) -> None:
    """CI's release of basket v1.2.5 on the swarm, completed: the incident's bad change."""
    if world.engine:
        world.engine.deploy(SWARM)
        wait_for("the release of v1.2.5", lambda: world.engine.service(SWARM)["UpdateStatus"]["State"] == "completed",
                 60)


def versions(db: Database) -> list:
    return config_versions.versions(db, "pricing", "ConfigMap", "pricing-config")


def break_config(world: World, db: Database, record=None) -> None:
    """The config incident's cause: pricing-config edited, the pods restarted, both versions recorded (by
    ``record``, or by the bot's own tracker), the restart finished."""
    (record or (lambda: None))()
    wait_for("version 1 recorded", lambda: versions(db) or None, 30)
    world.apply_config_change("pricing")
    (record or (lambda: None))()
    wait_for("version 2 recorded", lambda: len(versions(db)) >= 2 or None, 30)
    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))

    def settled():
        d = apps.read_namespaced_deployment("pricing", "pricing")
        return d.status.updated_replicas == d.spec.replicas == d.status.available_replicas == d.status.replicas
    wait_for("the restart to finish", lambda: settled() or None, 60)


def floor(strategy: str, service: str) -> float:
    """The change made by the strategy's own operations, without the bot."""
    with World(swarm=service == SWARM, alb=service in BEHIND_ALB) as world:
        released(world)
        svc = load_catalog(world.catalog_path).get(service)
        if world.aws:  # boto3's default chain reads the process environment, as the bot's does
            os.environ.update(world.aws.env())
        api = config.new_client_from_config(config_file=str(world.kubeconfig))
        if strategy == "config":
            db = Database(f"sqlite:///{world.state_dir / 'floor.db'}")
            db.migrate()
            live = client.CoreV1Api(api)

            def record() -> None:
                cm = live.read_namespaced_config_map("pricing-config", "pricing")
                config_versions.record(db, "ConfigMap", api.sanitize_for_serialization(cm))

            break_config(world, db, record)
        else:
            db = None
        versions = None if db is None else config_versions.RecordedVersions(db)
        s = registry.spec(strategy).build(BuildContext(Clients(str(world.kubeconfig)), versions))
        plan = s.plan(target(svc))
        t = dataclasses.replace(plan.target, to_revision=plan.desired.number)
        started = time.monotonic()
        if capability(s, Router) is not None:  # canary, aws-alb: the weights, stepped as the run steps them
            steps, step_pause = s.schedule(t)
            pause = duration_seconds(step_pause or svc.analysis.interval)
            for weight in [w for w in steps if w < s.weight(t)]:
                s.set_weight(t, weight)
                s.settle(t, lambda p: None, 600)
                if weight:
                    time.sleep(pause)
        else:
            if strategy == "blue-green":
                s.prepare(plan, lambda p: None, 600)
            s.apply(plan)
            s.wait(t, lambda p: None, 600)
        return time.monotonic() - started


def with_bot(service: str) -> float:
    """Confirm click -> ``rolled_out`` on the timeline, through Slack, the database and the worker."""
    with World(swarm=service == SWARM, alb=service in BEHIND_ALB) as world, BotHarness(world) as bot:
        released(world)
        if service == "pricing":
            break_config(world, bot.rt.db)
        alice = OnCall(bot, ONCALL)
        alice.type(f"{service} bench")
        channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{service}")
        alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
        alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
        clicked = dt.datetime.now(dt.UTC)
        alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
        incident = incident_in_channel(bot.rt, channel.id)

        def rolled_out():
            return next((e for e in timeline.events(bot.rt.db, incident.id) if e.kind == "rolled_out"), None)

        event = wait_for("traffic on the good release", rolled_out, 600, interval=0.1)
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=dt.UTC)
        return (at - clicked).total_seconds()


def samples(measure, *args, repeat: int) -> list[float]:
    return [measure(*args) for _ in range(repeat)]


def main() -> int:
    logging.disable(logging.INFO)
    args = sys.argv[1:]
    repeat = 3
    if "--repeat" in args:
        at = args.index("--repeat")
        repeat = int(args[at + 1])
        del args[at : at + 2]
    met = True
    for strategy, service, runbook in (c for c in CASES if not args or c[0] in args):
        references = samples(floor, strategy, service, repeat=repeat)
        measured = samples(with_bot, service, repeat=repeat)
        ratio = statistics.median(measured) / statistics.median(references)
        met &= ratio <= TARGET
        shown = " ".join(f"{m:.1f}/{r:.1f}" for m, r in zip(measured, references, strict=True))
        print(
            f"{strategy:<11} {service:<17} click->traffic {statistics.median(measured):6.1f} s  "
            f"floor {statistics.median(references):6.1f} s  runbook {runbook:>3} s  ratio={ratio:.2f}  "
            f"target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'}  (bot/floor s: {shown})",
            flush=True,
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
