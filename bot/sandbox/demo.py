"""`rollback-bot demo`: a whole incident against the sandbox world, printed as people would read it.

No Slack account or cluster: the sandbox's Kubernetes API, service simulators, real
Prometheus (when installed) and the Slack emulator stand in, over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.scenario import load_scenario
from bot.sandbox.world import ONCALL, OWNER, World
from bot.slack.views import (
    RESOLVE_IMPACT,
    RESOLVE_LESSONS,
    RESOLVE_ROOT_CAUSE,
    ActionId,
    CallbackId,
    action_item_block,
)
from bot.state import config_versions

SERVICE = "shopping-service"


@dataclass(frozen=True)
class Story:
    """One incident of the default scenario, played with one strategy."""

    service: str
    typed: str  # the reason alice types after the service name
    root_cause: str
    impact: str
    lessons: str
    action_item: str


# One story per strategy the sandbox scenario has a service for; a registered strategy without one has no demo.
STORIES = {
    "kubernetes": Story(
        SERVICE,
        "checkout errors spiking",
        "v1.2.5's new payment client timed out under load and answered 503s.",
        "About 30% of checkout requests failed for 35 minutes.",
        "Canary the payment client; alert on the 5xx rate sooner.",
        "Add a canary stage for payments",
    ),
    "statefulset": Story(
        "ledger",
        "balance errors after deploy",
        "v4.2.0's balance cache served stale balances and failed writes under load.",
        "About 35% of ledger requests failed for 30 minutes.",
        "Roll StatefulSets out with a partition first.",
        "Stage ledger rollouts with a partition",
    ),
    "blue-green": Story(
        "storefront",
        "product images broken",
        "v2.1.0 pointed image URLs at a CDN host that was not provisioned.",
        "About 40% of storefront page loads failed for 25 minutes.",
        "Smoke-test the idle colour before switching to it.",
        "Add a pre-switch smoke test of the idle colour",
    ),
    "config": Story(
        "pricing",
        "quotes failing since the config change",
        "PRICE_SOURCE was switched to legacy-api in pricing-config; the legacy API cannot price the new catalog.",
        "About 45% of price quotes failed for 20 minutes.",
        "Review ConfigMap changes like code; canary a config change like a release.",
        "Move pricing-config into Git with review",
    ),
    "aws-ecs": Story(
        "orders",
        "payment errors after deploy",
        "Task definition orders:3 (v2.5.0) sent receipts to a receipts API that timed out, with a 500 ms payment "
        "timeout.",
        "About 35% of order requests failed for 30 minutes.",
        "Turn on the ECS deployment circuit breaker's rollback; canary task definitions behind the ALB.",
        "Enable circuit breaker rollback on orders",
    ),
    "swarm": Story(
        "basket",
        "checkout errors after deploy",
        "v1.2.5 switched PAYMENT_PROVIDER to adyen with a client that timed out under load.",
        "About 40% of basket requests failed for 20 minutes.",
        "Set the Swarm service's UpdateConfig failure action to rollback, with a monitor period.",
        "Use failure_action rollback on basket",
    ),
    "aws-alb": Story(
        "search",
        "results empty after deploy",
        "Target group search-release (v1.9.0) served a ranking model that timed out for long queries; the listener "
        "rule sent it all of the traffic.",
        "About 40% of searches failed for 25 minutes, and CloudFront kept serving cached error pages.",
        "Shift ALB weights in steps gated on the 5xx rate; keep error pages out of the CDN cache.",
        "Step ALB weight shifts for search",
    ),
    "vm-release": Story(
        "shopping-vm",
        "checkout errors after the VM deploy",
        "Release v1.2.5 on the VM hosts shipped the payment client that timed out under load.",
        "About 30% of checkout requests failed while the hosts ran v1.2.5.",
        "Deploy to one VM host first and watch its 5xx rate before the others.",
        "Add a one-host canary stage to the VM deploy",
    ),
    "canary": Story(
        "checkout",
        "tax errors on the canary",
        "The canary v3.5.0's new tax engine failed for addresses without a region.",
        "About 40% of checkouts failed while the canary had 80% of the traffic.",
        "Promote canaries more slowly; gate each step on the 5xx rate.",
        "Gate canary promotion on the 5xx rate",
    ),
}


def _config_change(world: World, bot: BotHarness, alice: OnCall, say, out: TextIO) -> None:
    """The config incident's cause, made while the bot watches: the ConfigMap edited, the pods restarted."""
    svc = world.scenario.service("pricing")
    name = svc.config_change["configmap"]

    def recorded(n: int):
        return config_versions.versions(bot.rt.db, svc.namespace, "ConfigMap", name)[n - 1:] or None

    bot.wait_for(f"the config tracker to record {name}", lambda: recorded(1), 30)
    say("02:58 — a teammate switches pricing's price source and restarts it:")
    for command in world.config_change_commands("pricing"):
        print(f"    $ {command}", file=out)
    world.apply_config_change("pricing")
    bot.wait_for(f"the config tracker to record the change of {name}", lambda: recorded(2), 30)
    say("The bot's config tracker recorded the change. Quotes start failing; 20 seconds later ...")
    time.sleep(20)  # real traffic at the bad setting, for Prometheus to rate
    say("alice checks what changed: /rollback config pricing")
    alice.type("config pricing")
    reply = bot.wait_for("the config versions", lambda: [r for r in world.slack.responses() if "Config" in str(r)], 20)
    for block in reply[-1].get("blocks") or []:
        text = (block.get("text") or {}).get("text") or " ".join(e.get("text", "") for e in block.get("elements", []))
        print("    " + text.replace("\n", "\n    "), file=out)


def _swarm_release(world: World, bot: BotHarness, alice: OnCall, say, out: TextIO) -> None:
    """The bot sees basket on v1.2.4 (it records every spec it sees), then CI releases v1.2.5 on the swarm."""
    say("alice looks at basket on the swarm: /rollback history basket (the bot records each spec it sees)")
    alice.type("history basket")
    bot.wait_for("the history of basket", lambda: world.slack.responses(), 20)
    say(f"CI releases v1.2.5: DOCKER_HOST={world.engine.host} docker service update --image "
        "registry.local/basket:v1.2.5 --env-add PAYMENT_PROVIDER=adyen basket")
    world.engine.deploy("basket")
    done = lambda: world.engine.service("basket")["UpdateStatus"]["State"] == "completed"  # noqa: E731
    bot.wait_for("the release of v1.2.5", done, 60)
    print("    UpdateStatus: completed; 5/5 tasks run v1.2.5", file=out)


def _resolve(alice: OnCall, channel_id: str, story: Story) -> None:
    """``/rollback resolve`` and the postmortem form, filled in as the story tells it."""
    alice.type("resolve", channel_id=channel_id)
    alice.submit(
        alice.modal(CallbackId.RESOLVE),
        {
            RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: story.root_cause},
            RESOLVE_IMPACT: {RESOLVE_IMPACT: story.impact},
            RESOLVE_LESSONS: {RESOLVE_LESSONS: story.lessons},
            action_item_block(1, "text"): {action_item_block(1, "text"): story.action_item},
            action_item_block(1, "owner"): {action_item_block(1, "owner"): OWNER},
            action_item_block(1, "due"): {action_item_block(1, "due"): f"{dt.date.today() + dt.timedelta(7)}"},
        },
    )


def run_demo(
    out: TextIO = sys.stdout,
    scenario: str | None = None,
    keep_dir: str | None = None,
    strategy: str = "kubernetes",
    signals: str = "prometheus",
) -> int:
    """``signals``: ``cloudwatch`` plays it with CloudWatch as the only signal source (its ALB's metrics, written
    from the traffic; no Prometheus): only a service on ECS has them."""
    if strategy not in STORIES:
        print(f"the sandbox has no demo incident for strategy {strategy} (it has: {', '.join(STORIES)})", file=out)
        return 2
    on_cloudwatch = signals == "cloudwatch"
    if on_cloudwatch and strategy != "aws-ecs":
        print("--signals cloudwatch reads an ALB's metrics: play it with --strategy aws-ecs", file=out)
        return 2
    story = STORIES[strategy]
    service = story.service
    logging.disable(logging.INFO)  # the transcript is the output; warnings and errors still show
    state = Path(keep_dir or tempfile.mkdtemp(prefix="rollback-demo-"))

    def say(text: str) -> None:
        print(f"\n>>> {text}", file=out, flush=True)

    say("Starting the sandbox: Kubernetes API simulator, moto (AWS), service simulator, Prometheus, Slack emulator")
    world = World(
        load_scenario(scenario),
        state_dir=state / "world",
        prometheus=False if on_cloudwatch else None,
        cloudwatch=on_cloudwatch,
        swarm=strategy == "swarm",
        alb=strategy == "aws-alb",
        vms=strategy == "vm-release",
    )
    with world, BotHarness(world) as bot:
        if on_cloudwatch:
            print(f"    Signals: CloudWatch only (moto at {world.aws.url}; no Prometheus)", file=out)
        else:
            where = world.prometheus.url if world.prometheus else "not installed (signals unavailable)"
            print(f"    Prometheus: {where}", file=out)
        alice = OnCall(bot, ONCALL)
        if strategy == "config":
            _config_change(world, bot, alice, say, out)
        if strategy == "swarm":
            _swarm_release(world, bot, alice, say, out)
        if world.vms:
            hosts = ", ".join(f"{h} on {r}" for h, r in world.vms.releases().items())
            print(f"    VM hosts (real sshd each, behind a real HAProxy): {hosts}", file=out)
        say(f"03:12 — alice (on call) sees errors and types: /rollback {service} {story.typed}")
        alice.type(f"{service} {story.typed}")
        channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{service}")
        alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
        say(
            f"The bot opened #{channel.name} and pinned the incident card. alice clicks *Roll back to previous*"
        )
        alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
        alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
        say(f"The bot shows the dry-run plan ({strategy}). alice reads it and clicks *Confirm rollback*")
        alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
        result = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=180)
        ok = "and verified" in result["text"]  # "is back on …, but I could NOT verify" is not ok
        say("The rollback " + ("is verified." if ok else "did NOT verify: see the channel below."))
        say("alice types /rollback resolve in the incident channel and fills in the postmortem form")
        _resolve(alice, channel.id, story)
        alice.message_saying(channel.id, "resolved", timeout=30)
        postmortem = bot.rt.postmortem_dir / f"{incident_in_channel(bot.rt, channel.id).key}.md"
        say(f"Transcript of #{channel.name}")
        print(world.slack.transcript(channel.id), file=out)
        say("Transcript of #incidents (announcements)")
        print(world.slack.transcript(world.slack.channel_by_name("incidents")["id"]), file=out)
        kept = state / postmortem.name
        shutil.copy(postmortem, kept)
        say(f"Postmortem written to {kept}")
        print(kept.read_text(), file=out)
    return 0 if ok else 1
