"""Config rollback against the simulator: the tracker records each version of pricing's ConfigMap and Secret,
the plan shows the diff, the restore writes it back and restarts the pods; real kubectl makes the changes."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading

import pytest
from kubernetes import client

from bot.config import Catalog, ServiceConfig
from bot.config_tracker import ConfigTracker
from bot.providers.kubernetes.config.options import ConfigRollback
from bot.providers.kubernetes.config.strategy import ConfigRestore
from bot.providers.kubernetes.locator import k8s_target
from bot.state import config_versions
from bot.state.db import Database
from bot.state.models import ConfigVersion
from bot.strategies.options import to_options
from bot.strategies.versions import Fingerprints

NS = "pricing"
BLOCK = ConfigRollback("pricing-config", ("pricing-credentials",))
SERVICE = ServiceConfig(name="pricing", namespace=NS, strategy="config", options=BLOCK)
TARGET = k8s_target("pricing", NS, "pricing", "app", options=to_options(BLOCK))
PRINTS = Fingerprints(b"a-test-fingerprint-key-of-32-chars")


@pytest.fixture
def db(tmp_path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def tracker(sim, db) -> ConfigTracker:
    t = ConfigTracker(Catalog(services={"pricing": SERVICE}), db, lambda _: sim.api, PRINTS)
    yield t
    t.stop()


@pytest.fixture
def restore(sim, db) -> ConfigRestore:
    return ConfigRestore(sim.api, config_versions.RecordedVersions(db, PRINTS), clock=sim.clock)


def kubectl(sim, *args: str) -> str:
    return sim.kubectl("-n", NS, *args)


def bad_change(sim) -> None:
    """What a person does with kubectl: edit the ConfigMap, then restart the pods so they read it."""
    kubectl(sim, "patch", "configmap", "pricing-config", "--type", "merge", "-p",
            json.dumps({"data": {"PRICE_SOURCE": "legacy-api", "CACHE_TTL_SECONDS": "30"}}))
    kubectl(sim, "rollout", "restart", "deployment/pricing")


def rotate_secret(sim, token: str) -> None:
    data = {"token": base64.b64encode(token.encode()).decode()}
    kubectl(sim, "patch", "secret", "pricing-credentials", "--type", "merge", "-p", json.dumps({"data": data}))


def stored(db: Database) -> list[ConfigVersion]:
    return db.transaction(lambda s: list(s.query(ConfigVersion).order_by(ConfigVersion.id)))


def pod_sources(sim) -> set[str]:
    pods = json.loads(kubectl(sim, "get", "pods", "-o", "json"))["items"]
    ready = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return {json.loads(p["metadata"]["annotations"]["sandbox.rollback-bot/env"])["app"]["PRICE_SOURCE"] for p in ready}


def test_the_tracker_records_every_version_with_who_changed_it_and_never_a_secret_value(sim, db, tracker):
    follow = threading.Thread(target=tracker.follow, args=((None, NS), "ConfigMap"), daemon=True)
    follow_secrets = threading.Thread(target=tracker.follow, args=((None, NS), "Secret"), daemon=True)
    follow.start()
    follow_secrets.start()
    sim.until(lambda: len(stored(db)) == 2)  # the ConfigMap and the Secret as they are
    bad_change(sim)
    rotate_secret(sim, "rotated-token-2")
    sim.until(lambda: len(stored(db)) == 4)
    cm = config_versions.versions(db, NS, "ConfigMap", "pricing-config")
    assert [v.changed_by for v in cm] == ["kubectl-client-side-apply", "kubectl-patch"]
    assert cm[1].changed_keys == ["CACHE_TTL_SECONDS", "PRICE_SOURCE"]
    assert config_versions.history(db, NS, "ConfigMap", "pricing-config").entries[1].changes == (
        'CACHE_TTL_SECONDS: "300" → "30"',
        'PRICE_SOURCE: "catalog-api" → "legacy-api"',
    )
    secret = config_versions.history(db, NS, "Secret", "pricing-credentials", PRINTS)
    assert secret.entries[1].changes == ("changed: token",)
    everything = json.dumps([[v.keys, v.data, v.changed_keys] for v in stored(db)])
    for value in ("sandbox-token-1", "rotated-token-2", "c2FuZGJveC10b2tlbi0x"):  # clear and base64
        assert value not in everything


def test_restoring_a_version_writes_it_back_restarts_the_pods_and_verifies(sim, db, tracker, restore):
    tracker.record_now(SERVICE)
    bad_change(sim)
    sim.until(lambda: pod_sources(sim) == {"legacy-api"})
    plan = restore.plan(TARGET)
    assert plan.changes[:2] == (
        'ConfigMap pricing-config back to version 1: CACHE_TTL_SECONDS: "30" → "300"',
        'ConfigMap pricing-config back to version 1: PRICE_SOURCE: "legacy-api" → "catalog-api"',
    )
    assert "rollout restart deployment/pricing" in plan.changes[-1]
    live = json.loads(kubectl(sim, "get", "configmap", "pricing-config", "-o", "json"))
    assert live["data"]["PRICE_SOURCE"] == "legacy-api", "the plan changed nothing"

    restore.apply(plan)
    restore.wait(plan.target, lambda p: None, 600)
    sim.until(lambda: pod_sources(sim) == {"catalog-api"})
    live = json.loads(kubectl(sim, "get", "configmap", "pricing-config", "-o", "json"))
    assert live["data"] == {"PRICE_SOURCE": "catalog-api", "CACHE_TTL_SECONDS": "300", "CURRENCY": "EUR"}
    template = json.loads(kubectl(sim, "get", "deployment", "pricing", "-o", "json"))["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    assert restore.verify(plan).ok and restore.is_applied(plan)


def test_a_secret_comes_back_from_another_secret_that_still_holds_its_values(sim, db, tracker, restore):
    old = base64.b64encode(b"sandbox-token-1").decode()
    previous = {"metadata": {"name": "pricing-credentials-2026-11"}, "data": {"token": old}}  # left by a rotation
    client.CoreV1Api(sim.api).create_namespaced_secret(NS, previous)
    tracker.record_now(SERVICE)
    bad_change(sim)
    rotate_secret(sim, "rotated-token-2")
    plan = restore.plan(dataclasses.replace(TARGET, to_revision=1))  # before both changes
    assert plan.changes[0].startswith("ConfigMap pricing-config back to version 1")
    line = next(c for c in plan.changes if c.startswith("Secret pricing-credentials"))
    assert "copied from Secret pricing-credentials-2026-11" in line and "changed: token" in line
    assert "sandbox-token-1" not in json.dumps([plan.changes, plan.warnings, list(plan.operations)])

    restore.apply(plan)
    secret = json.loads(kubectl(sim, "get", "secret", "pricing-credentials", "-o", "json"))
    assert secret["data"] == {"token": old}
    restore.wait(plan.target, lambda p: None, 600)  # the restart the restore began
    assert restore.verify(plan).ok


def test_a_bad_secret_rotation_alone_is_rolled_back_and_the_configmap_left_as_it_is(sim, db, tracker, restore):
    """Each change of the ConfigMap or a Secret is a version of the service's config: the previous one here
    is the state before the rotation, so only the Secret goes back."""
    old = {"token": base64.b64encode(b"sandbox-token-1").decode()}
    previous = {"metadata": {"name": "pricing-credentials-old"}, "data": old}
    client.CoreV1Api(sim.api).create_namespaced_secret(NS, previous)
    tracker.record_now(SERVICE)
    rotate_secret(sim, "rotated-token-2")
    history = restore.history(TARGET)
    assert [(r.number, r.change_cause) for r in history] == [
        (1, "first seen"),
        (2, "Secret pricing-credentials: changed token by kubectl-patch"),
    ]
    plan = restore.plan(TARGET)
    assert (plan.current.number, plan.desired.number) == (2, 1)
    assert plan.changes[0].startswith("Secret pricing-credentials back to its values of ")
    assert "(changed: token), copied from Secret pricing-credentials-old" in plan.changes[0]
    assert not any(c.startswith("ConfigMap") for c in plan.changes)
    restore.apply(plan)
    restore.wait(plan.target, lambda p: None, 600)
    secret = json.loads(kubectl(sim, "get", "secret", "pricing-credentials", "-o", "json"))
    assert base64.b64decode(secret["data"]["token"]) == b"sandbox-token-1"
    assert restore.verify(plan).ok
    assert restore.history(TARGET)[-1].change_cause == "Secret pricing-credentials: back to v1 by rollback-bot"


def test_without_a_secret_holding_the_old_values_the_plan_says_so_and_leaves_it(sim, db, tracker, restore):
    tracker.record_now(SERVICE)
    bad_change(sim)
    rotate_secret(sim, "rotated-token-2")
    plan = restore.plan(dataclasses.replace(TARGET, to_revision=1))
    assert plan.changes[0].startswith("ConfigMap pricing-config back to version 1")
    assert not any(c.startswith("Secret") for c in plan.changes)
    assert any("no Secret in pricing holds its earlier values" in w for w in plan.warnings)
    restore.apply(plan)
    secret = json.loads(kubectl(sim, "get", "secret", "pricing-credentials", "-o", "json"))
    assert base64.b64decode(secret["data"]["token"]) == b"rotated-token-2"


def test_the_tracker_keeps_trying_when_the_api_refuses_and_records_once_it_can(sim, db, tracker):
    refused = sim.faults.add(403, verb="list", resource="configmaps", times=2)
    tracker.retry_seconds = 0.05
    threading.Thread(target=tracker.follow, args=((None, NS), "ConfigMap"), daemon=True).start()
    sim.until(lambda: config_versions.versions(db, NS, "ConfigMap", "pricing-config"))
    assert refused.hits == 2
