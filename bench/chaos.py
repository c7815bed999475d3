"""Chaos: play N incidents end to end while the sandbox world fails in the ways production does.

Each incident: declare, *Roll back to previous*, *Confirm*, wait for the outcome, resolve; then the
bad release is deployed again for the next one. One fault per incident, in turn:
Kubernetes 409 / 500 / slow answers / a hung watch / 500s on every request for 20 s during the bake;
Slack 429 / 500; Prometheus down for a while; the worker holding the run killed (SIGKILL) mid-run;
the bot's database connections dropped.
The bot runs as in production: HTTP in this process, two `rollback-bot worker` processes sharing
PostgreSQL (SQLite when PostgreSQL is unreachable: the connection-drop fault is then skipped).

Prints the counts and, last, whether the targets (0 duplicate patches, lost events, stuck incidents,
unanswered clicks, false FAILED outcomes: a rollback to the good revision reported failed) were met.
Run: ``.venv/bin/python bench/chaos.py [--incidents 30] [--seed 1] [--fault k8s-500-bake ...]``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

from kubernetes import client, config

from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL, World
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_ROOT_CAUSE, ActionId, CallbackId
from bot.state import runs, timeline
from bot.state.models import Incident, RollbackRun

SERVICE, NAMESPACE = "shopping-service", "shopping"
BAD = "registry.local/shopping-service:v1.2.5"
GOOD = "registry.local/shopping-service:v1.2.4"  # what "Roll back to previous" goes to, every incident
FAILED_OUTCOMES = ("NOT healthy", "FAILED")
OUTCOMES = ("and verified", "NOT healthy", "FAILED", "could NOT verify", "did not start")
REQUIRED = ("declared", "assessed", "channel", "plan", "decision", "resolved")
RUN_ENDINGS = ("verified", "verification_failed", "could_not_verify", "rollback_failed")
FAULTS = (
    "none",
    "k8s-409",
    "k8s-500",
    "k8s-slow",
    "k8s-hung-watch",
    "k8s-500-bake",
    "slack-429",
    "slack-500",
    "prometheus-down",
    "worker-killed",
    "db-dropped",
)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
APP_NAME = "rollback-chaos"
OUTAGE_SECONDS = 20  # k8s-500-bake: every API request answers 500 for this long, from the bake's start
TARGETS = (
    "duplicate patches",
    "lost timeline events",
    "stuck incidents",
    "unanswered clicks",
    "false FAILED outcomes",
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
    """Two `rollback-bot worker` processes; one can be killed and is replaced."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.procs = [self._start() for _ in range(2)]

    def _start(self) -> subprocess.Popen:
        exe = os.path.join(os.path.dirname(sys.executable), "rollback-bot")
        return subprocess.Popen([exe, "worker"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

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
    parser.add_argument("--incidents", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault", action="append", choices=FAULTS, help="only these faults, in turn (repeatable)")
    args = parser.parse_args()
    faults = tuple(args.fault or FAULTS)
    rand = random.Random(args.seed)
    url, admin = database_url()
    counts = dict.fromkeys(
        (
            "incidents",
            "confirmed runs",
            "patches applied",
            "duplicate patches",
            "lost timeline events",
            "stuck incidents",
            "unanswered clicks",
            "false FAILED outcomes",
        ),
        0,
    )
    overrides = {"analysis": {"interval": "2s", "bake": "6s", "failure_limit": 2}}
    with World(catalog_overrides=overrides) as world:
        env = {"DATABASE_URL": url} if url else {}
        with BotHarness(world, env=env, worker=False) as bot:
            workers = Workers({**world.env(), **env, "ROLLBACK_DEADLINE_SECONDS": "120"})
            apps = client.AppsV1Api(config.new_client_from_config(config_file=str(world.kubeconfig)))
            alice = OnCall(bot, ONCALL)
            try:
                for n in range(args.incidents):
                    fault = faults[n % len(faults)]
                    if fault == "db-dropped" and admin is None:
                        fault = "none"
                    outcome = play(world, bot, alice, apps, workers, admin, fault, rand, counts)
                    print(f"incident {n + 1:>2}/{args.incidents}: fault {fault:<15} -> {outcome}", flush=True)
            finally:
                workers.stop()
            tally(bot, counts)
    if admin is not None:
        admin.close()
    for name, value in counts.items():
        print(f"{name:<22} {value}")
    bad = {k: counts[k] for k in TARGETS}
    met = not any(bad.values())
    print(f"targets (0 each: {', '.join(bad)}): {'met' if met else 'NOT met'}")
    return 0 if met else 1


def revision(apps: client.AppsV1Api) -> int:
    d = apps.read_namespaced_deployment(SERVICE, NAMESPACE)
    return int(d.metadata.annotations["deployment.kubernetes.io/revision"])


def live_image(apps: client.AppsV1Api) -> str:
    return apps.read_namespaced_deployment(SERVICE, NAMESPACE).spec.template.spec.containers[0].image


def inject(world: World, admin, fault: str) -> None:
    faults = world.k8s_faults
    if fault == "k8s-409":
        faults.add(409, verb="patch", resource="deployments", times=1)
    elif fault == "k8s-500":
        faults.add(500, verb="get", resource="deployments", times=2)
    elif fault == "k8s-slow":
        faults.delay(3, verb="get", times=3)
    elif fault == "k8s-hung-watch":
        faults.hang_watches(times=2)
    elif fault == "slack-429":
        world.slack.set_rate_limit("chat.update", 3)
    elif fault == "slack-500":
        world.slack.fail_next("chat.update", 500, times=2)
        world.slack.fail_next("chat.postMessage", 500, times=1)


def during_run(world: World, bot: BotHarness, workers: Workers, admin, fault: str) -> None:
    """Faults that hit while the run is under way."""
    if fault == "prometheus-down" and world.prometheus:
        world.prometheus.stop()
        time.sleep(8)
        world.prometheus.start()
    elif fault == "worker-killed":
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run = runs.active_run(bot.rt.db, SERVICE)
            if run is not None and run.status == "running" and run.lease_owner:
                workers.kill_owner(run.lease_owner)
                return
            time.sleep(0.2)
    elif fault == "k8s-500-bake":
        if wait_for_step(bot, "verify"):
            world.k8s_faults.add(500, seconds=OUTAGE_SECONDS)  # every verb, every resource
    elif fault == "db-dropped":
        time.sleep(2)
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,))


def wait_for_step(bot: BotHarness, name: str, timeout: float = 60) -> bool:
    """Until the active run is carrying out step ``name`` (False: it never did within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = runs.active_run(bot.rt.db, SERVICE)
        if run is not None and any(s.name == name and s.status == "running" for s in run.steps):
            return True
        time.sleep(0.1)
    return False


def play(world, bot, alice, apps, workers, admin, fault, rand, counts) -> str:
    counts["incidents"] += 1
    before = revision(apps)
    alice.type(f"{SERVICE} chaos {rand.randint(0, 10**6)}")
    incident = bot.wait_for("the incident", lambda: open_incident(bot), 60)
    channel_id = bot.wait_for("its channel", lambda: open_incident(bot).channel_id, 60)
    try:
        alice.message_with(channel_id, ActionId.ROLLBACK_PREVIOUS, timeout=60)
        inject(world, admin, fault)
        alice.click(channel_id, ActionId.ROLLBACK_PREVIOUS)
        alice.message_with(channel_id, ActionId.CONFIRM_ROLLBACK, timeout=60)
        alice.click(channel_id, ActionId.CONFIRM_ROLLBACK)
        counts["confirmed runs"] += 1
        helper = threading.Thread(target=during_run, args=(world, bot, workers, admin, fault))
        helper.start()
        told = alice.message_saying(channel_id, *OUTCOMES, timeout=240)
        helper.join()
        outcome = next(p for p in OUTCOMES if p in (told.get("text") or ""))
    except TimeoutError as exc:
        counts["unanswered clicks"] += 1
        outcome = f"no answer: {str(exc).splitlines()[0]}"
    finally:
        world.k8s_faults.clear()
        world.slack.set_rate_limit("chat.update", 10**6)
    patched = revision(apps) - before
    counts["patches applied"] += min(patched, 1)
    counts["duplicate patches"] += max(patched - 1, 0)
    if outcome in FAILED_OUTCOMES and patched and live_image(apps) == GOOD:
        counts["false FAILED outcomes"] += 1  # the good revision went out, and the person was told it failed
    resolve(bot, alice, incident.key, channel_id)
    redeploy_bad(apps)
    return outcome


def open_incident(bot: BotHarness) -> Incident | None:
    query = lambda s: s.query(Incident).filter(Incident.status.notin_(("resolved", "dismissed"))).first()  # noqa: E731
    return bot.rt.db.transaction(query)


def resolve(bot: BotHarness, alice: OnCall, key: str, channel_id: str) -> None:
    """Resolve once the run has ended (resolve is refused while a rollback runs)."""
    bot.wait_for("the run to end", lambda: runs.active_run(bot.rt.db, SERVICE) is None, 300)
    alice.type(f"resolve {key}", channel_id=channel_id)
    alice.submit(
        alice.modal(CallbackId.RESOLVE, timeout=30),
        {RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "chaos"}, RESOLVE_IMPACT: {RESOLVE_IMPACT: "none"}},
    )
    bot.wait_for("the incident to close", lambda: open_incident(bot) is None, 60)


def redeploy_bad(apps: client.AppsV1Api) -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": BAD}]}}}}
    apps.patch_namespaced_deployment(SERVICE, NAMESPACE, body)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        d = apps.read_namespaced_deployment(SERVICE, NAMESPACE)
        s = d.status
        if s.updated_replicas == d.spec.replicas == s.available_replicas and s.replicas == d.spec.replicas:
            return
        time.sleep(0.3)


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
    active = db.transaction(
        lambda s: s.query(RollbackRun).filter(RollbackRun.status.in_(("pending", "running"))).count()
    )
    counts["stuck incidents"] += active


if __name__ == "__main__":
    sys.exit(main())
