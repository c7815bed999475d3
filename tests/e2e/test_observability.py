"""What the platform team sees of the bot: its /metrics (also through the sandbox's real Prometheus), /readyz,
and its JSON logs of a whole incident, with no secret in them."""

from __future__ import annotations

import io
import json
import logging

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot import logs
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import ONCALL, SANDBOX_BOT_TOKEN, SANDBOX_SIGNING_SECRET
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_LESSONS, RESOLVE_ROOT_CAUSE, ActionId, CallbackId
from bot.state import workers
from bot.state.models import Incident, RollbackRun
from tests.e2e.conftest import SERVICE, channel_prefix


def samples(url: str) -> dict[tuple[str, frozenset], float]:
    """The bot's /metrics: (sample name, labels) -> value."""
    response = requests.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def roll_back(alice, world) -> str:
    """Declare, roll back to the previous release, wait until verified; the incident channel's id."""
    alice.type(f"{SERVICE} checkout errors spiking")
    channel = alice.channel(channel_prefix())
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, "is back on", "FAILED", "NOT healthy", timeout=120)
    assert "is back on v1.2.4" in done["text"], done["text"]
    return channel.id


@pytest.mark.prometheus
def test_metrics_count_the_incident_and_its_rollback_and_prometheus_scrapes_them(world, bot, alice):
    before = samples(bot.url)
    channel_id = roll_back(alice, world)
    incident = bot.rt.db.transaction(lambda s: s.query(Incident).one())
    after = samples(bot.url)

    declared = {"severity": incident.severity, "declared_by": "slack_user"}
    name = "rollback_bot_incidents_declared_total"
    assert value(after, name, **declared) - value(before, name, **declared) == 1
    runs = "rollback_bot_rollback_runs_total"
    verified = {"strategy": "kubernetes", "outcome": "verified"}
    assert value(after, runs, **verified) - value(before, runs, **verified) == 1
    decision = "rollback_bot_declare_to_decision_seconds_count"
    assert value(after, decision, decision="rollback") - value(before, decision, decision="rollback") == 1
    mitigation = "rollback_bot_declare_to_mitigation_seconds_count"
    assert value(after, mitigation) - value(before, mitigation) == 1
    assert value(after, "rollback_bot_worker_lease_seconds") == 10  # the harness's lease
    assert ("rollback_bot_listener_queue_depth", frozenset()) in after
    assert ("rollback_bot_worker_lease_lag_seconds", frozenset()) in after
    assert alice.message_with(channel_id, ActionId.RESOLVE)

    # The sandbox's Prometheus scrapes the bot as it scrapes the services: the same count, through its API.
    expected = value(after, runs, **verified)

    def scraped() -> float | None:
        answer = requests.get(
            f"{world.prometheus.url}/api/v1/query",
            params={"query": f'{runs}{{job="rollback-bot",strategy="kubernetes",outcome="verified"}}'},
            timeout=5,
        ).json()
        result = answer["data"]["result"]
        return float(result[0]["value"][1]) if result and float(result[0]["value"][1]) == expected else None

    assert wait_for("Prometheus to scrape the bot's run count", scraped, timeout=30) == expected


def test_ready_with_a_live_worker_and_not_once_its_heartbeat_is_older_than_its_lease(world):
    with BotHarness(world, worker=False) as web:  # a web replica alone: no worker anywhere
        answer = requests.get(f"{web.url}/readyz", timeout=5)
        assert answer.status_code == 503
        assert answer.json()["reasons"] == [
            "no worker is alive (no worker has ever run): rollbacks would wait in the queue; start "
            "`rollback-bot worker`"
        ]
        assert requests.get(f"{web.url}/healthz", timeout=5).status_code == 200, "liveness stays up"

        workers.beat(web.rt.db, "crashed-worker", lease_seconds=0.5)  # a worker that then died
        assert requests.get(f"{web.url}/readyz", timeout=5).status_code == 200

        def stale() -> dict | None:
            answer = requests.get(f"{web.url}/readyz", timeout=5)
            return answer.json() if answer.status_code == 503 else None

        reasons = wait_for("readiness to notice the dead worker", stale, timeout=10)["reasons"]
        assert "the newest heartbeat is" in reasons[0] and "no worker is alive" in reasons[0]

        with BotHarness(world) as replica:  # a replica with its worker: both replicas are ready again
            for url in (web.url, replica.url):
                wait_for(f"{url} to be ready", lambda u=url: requests.get(f"{u}/readyz", timeout=5).ok, timeout=10)
            assert requests.get(f"{web.url}/readyz", timeout=5).json() == {"status": "ready"}
        # The worker stopped cleanly and said so: not ready at once, not a lease later.
        assert requests.get(f"{web.url}/readyz", timeout=5).status_code == 503


@pytest.fixture
def json_log():
    """Everything the process logs, at DEBUG, as the bot's LOG_FORMAT=json handler writes it."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


PG_PASSWORD = "pg-Pa55word-never-logged"


@pytest.mark.prometheus
def test_json_logs_of_a_whole_incident_name_it_and_hold_no_secret(world, json_log, pg_schema_url):
    database_url = pg_schema_url().replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)  # trust auth ignores it
    with BotHarness(world, env={"DATABASE_URL": database_url}) as bot:
        alice = OnCall(bot, ONCALL)
        channel_id = roll_back(alice, world)
        alice.type("resolve", channel_id=channel_id)
        alice.submit(
            alice.modal(CallbackId.RESOLVE),
            {
                RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "A slow payment client."},
                RESOLVE_IMPACT: {RESOLVE_IMPACT: "Some checkouts failed."},
                RESOLVE_LESSONS: {RESOLVE_LESSONS: "Canary it."},
            },
        )
        wait_for("the postmortem upload", lambda: world.slack.files(channel_id), 20)
        key = bot.rt.db.transaction(lambda s: s.query(Incident).one()).key
        run_id = bot.rt.db.transaction(lambda s: s.query(RollbackRun).one()).id

    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert len(lines) > 100
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    about_it = [line for line in lines if line.get("incident") == key]
    assert any(line.get("run") == run_id for line in about_it), "the worker's lines name the incident and run"
    assert any("run" not in line for line in about_it), "the listeners' lines name the incident"
    for secret in (SANDBOX_BOT_TOKEN, SANDBOX_SIGNING_SECRET, PG_PASSWORD, world.fingerprint_key):
        assert secret not in text
