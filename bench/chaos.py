"""Chaos: play incidents end to end while the sandbox world fails in the ways production does.

Each incident: declare, *Roll back to previous*, *Confirm*, wait for the outcome, resolve; then the
bad release is deployed again for the next one. One fault per incident, in turn, each in the world it needs:
- the example scenario, incidents of shopping-service: Kubernetes 409 / 500 / slow answers / a hung watch /
  500s on every request for 20 s during the bake; Slack 429 / 500; Prometheus down for a while; the worker
  holding the run killed (SIGKILL) mid-run; the bot's database connections dropped;
- the same, storefront (blue-green): the worker killed between the Service selector patch and the
  VirtualService route patch (``bg-crash-between-patches``);
- tests/scenarios/gitops_jobs.yaml, checkout (Argo CD) and cart (Flux) in turn: the worker killed after the
  sync suspend landed, before its answer (``gitops-crash-after-suspend``); then *Resume sync*;
- tests/scenarios/six_services.yaml: six services declared and confirmed at once, workers with 2 slots each
  (``six-concurrent``: one such round plays six incidents).
``--incidents N`` rounds are spread over the chosen faults in turn; each world plays its rounds with its own
bot: HTTP in this process, two `rollback-bot worker` processes sharing PostgreSQL (SQLite when PostgreSQL is
unreachable: the connection-drop fault is then skipped).

Prints the counts and, last, whether the targets were met: 0 duplicate patches, lost events, stuck
incidents, unanswered clicks, false FAILED outcomes (a rollback to the good release reported failed),
half-switched services at the end (Service selector and mesh route on different colours), GitOps sync
not restored exactly by *Resume sync*, and runs expired instead of queued.
Run: ``.venv/bin/python bench/chaos.py [--incidents 30] [--seed 1] [--fault six-concurrent ...]``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from kubernetes import config

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is not a package: chaos_play sits beside this file
from chaos_play import Kube, Player, Target  # noqa: E402

from bot.providers.kubernetes.traffic_patches import subset_of  # noqa: E402
from bot.sandbox.harness import BotHarness  # noqa: E402
from bot.sandbox.scenario import load_scenario  # noqa: E402
from bot.sandbox.world import World  # noqa: E402
from bot.state import timeline  # noqa: E402
from bot.state.models import Incident, RollbackRun  # noqa: E402

SCENARIOS = Path(__file__).parent.parent / "tests" / "scenarios"
REQUIRED = ("declared", "assessed", "channel", "plan", "decision", "resolved")
RUN_ENDINGS = ("verified", "verification_failed", "could_not_verify", "rollback_failed")


SHOP, SIX = ("shopping-service",), ("cart", "search", "inventory", "shipping", "reviews", "accounts")
WORLDS = {  # name -> (scenario file of tests/scenarios, None: the example's; each worker's --slots)
    "example": (None, 4),
    "gitops": ("gitops_jobs.yaml", 4),
    "six": ("six_services.yaml", 2),
}
FAULTS = {  # fault -> (the world it plays in, the services it plays, in turn)
    **{
        f: ("example", SHOP)
        for f in ("none", "k8s-409", "k8s-500", "k8s-slow", "k8s-hung-watch", "k8s-500-bake", "slack-429",
                  "slack-500", "prometheus-down", "worker-killed", "db-dropped")
    },
    "bg-crash-between-patches": ("example", ("storefront",)),
    "gitops-crash-after-suspend": ("gitops", ("checkout", "cart")),
    "six-concurrent": ("six", SIX),
}
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
APP_NAME = "rollback-chaos"
OVERRIDES = {"analysis": {"interval": "2s", "bake": "6s", "failure_limit": 2}}  # a short bake; the rest as shipped
COUNTS = ("incidents", "confirmed runs", "patches applied")
TARGETS = (
    "duplicate patches",
    "lost timeline events",
    "stuck incidents",
    "unanswered clicks",
    "false FAILED outcomes",
    "half-switched services",
    "sync not restored",
    "expired runs",
)


def database_url() -> tuple[str, object | None]:
    """A fresh PostgreSQL schema for the bot (with a recognisable application_name), or SQLite."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure: fall back to SQLite
        print(f"PostgreSQL unreachable ({exc}); using SQLite, and the connection-drop fault is skipped")
        return "", None
    schema = f"chaos_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    url = (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        f"?options=-csearch_path%3D{schema}&application_name={APP_NAME}"
    )
    return url, admin


class Workers:
    """Two `rollback-bot worker --slots N` processes; one can be killed and is replaced."""

    def __init__(self, env: dict[str, str], slots: int) -> None:
        self.env, self.slots = {**os.environ, **env}, slots
        self.procs = [self._start() for _ in range(2)]

    def _start(self) -> subprocess.Popen:
        exe = os.path.join(os.path.dirname(sys.executable), "rollback-bot")
        return subprocess.Popen(
            [exe, "worker", "--slots", str(self.slots)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def kill_owner(self, owner: str) -> bool:
        for i, proc in enumerate(self.procs):
            if f":{proc.pid}:" in owner:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                self.procs[i] = self._start()
                return True
        return False

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=30, help="rounds (a six-concurrent round is six incidents)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault", action="append", choices=FAULTS, help="only these faults, in turn (repeatable)")
    args = parser.parse_args()
    faults = tuple(args.fault or FAULTS)
    rounds = [faults[n % len(faults)] for n in range(args.incidents)]
    counts = dict.fromkeys((*COUNTS, *TARGETS), 0)
    rand, done = random.Random(args.seed), 0
    for world_name in WORLDS:
        mine = [f for f in rounds if FAULTS[f][0] == world_name]
        if mine:
            done = play_world(world_name, mine, rand, counts, done, args.incidents)
    for name, value in counts.items():
        print(f"{name:<24} {value}")
    bad = {k: counts[k] for k in TARGETS}
    met = not any(bad.values())
    print(f"targets (0 each: {', '.join(bad)}): {'met' if met else 'NOT met'}")
    return 0 if met else 1


def play_world(name: str, faults: list[str], rand: random.Random, counts: dict[str, int], done: int, total: int) -> int:
    """The rounds of one world, with its own bot, database and workers; then what it left behind."""
    scenario, slots = WORLDS[name]
    url, admin = database_url()
    env = {"DATABASE_URL": url} if url else {}
    world = World(load_scenario(SCENARIOS / scenario) if scenario else None, catalog_overrides=OVERRIDES)
    with world, BotHarness(world, env=env, worker=False) as bot:
        workers = Workers({**world.env(), **env, "ROLLBACK_DEADLINE_SECONDS": "120"}, slots)
        kube = Kube(config.new_client_from_config(config_file=str(world.kubeconfig)))
        player = Player(world, bot, workers, admin, counts, kube)
        turns: dict[str, int] = {}
        try:
            for fault in faults:
                targets = [Target.of(world.scenario.service(s)) for s in FAULTS[fault][1]]
                turn = turns[fault] = turns.get(fault, -1) + 1
                note = str(rand.randint(0, 10**6))
                if fault == "six-concurrent":
                    outcome = "; ".join(player.play_together(targets, note))
                else:
                    played = "none" if fault == "db-dropped" and admin is None else fault
                    outcome = player.play(targets[turn % len(targets)], played, note)
                done += 1
                print(f"round {done:>2}/{total}: {fault:<26} -> {outcome}", flush=True)
        finally:
            workers.stop()
        tally(bot, counts)
        counts["half-switched services"] += half_switched(bot, kube)
    if admin is not None:
        admin.close()
    return done


def half_switched(bot: BotHarness, kube: Kube) -> int:
    """Blue-green services whose Service selector and VirtualService route to different colours."""
    found = 0
    for service in bot.rt.catalog.services.values():
        bg = service.options
        if service.strategy != "blue-green" or not bg.virtual_service:
            continue
        selector = kube.core.read_namespaced_service(bg.service or service.name, service.namespace).spec.selector
        routed = subset_of(kube.virtual_service(service.namespace, bg.virtual_service), bg.colours)
        if (selected := selector.get(bg.selector_key)) != routed:
            print(f"half-switched: {service.name}: Service selects {selected}, mesh routes {routed}")
            found += 1
    return found


def tally(bot: BotHarness, counts: dict[str, int]) -> None:
    """Lost events and stuck incidents, from the record."""
    db = bot.rt.db
    incidents = db.transaction(lambda s: list(s.query(Incident)))
    for incident in incidents:
        kinds = {e.kind for e in timeline.events(db, incident.id)}
        counts["lost timeline events"] += sum(1 for k in REQUIRED if k not in kinds)
        if not kinds & set(RUN_ENDINGS) and "decision" in kinds:
            counts["lost timeline events"] += 1
        if incident.is_open:
            counts["stuck incidents"] += 1
        if "rollback_expired" in kinds:
            counts["expired runs"] += 1
    active = db.transaction(
        lambda s: s.query(RollbackRun).filter(RollbackRun.status.in_(("pending", "running"))).count()
    )
    counts["stuck incidents"] += active


if __name__ == "__main__":
    sys.exit(main())
