"""Who changed a ConfigMap, as the config history records it, when a person's edit and the bot's restore land
in the same second (managedFields times have one-second resolution), and when the watch sees the restore
before the restore's write has its answer. The simulator's clock stands still, so both writes are stamped
with the same second every run."""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from bot.config import Catalog
from bot.config_tracker import ConfigTracker
from bot.providers.kubernetes.config.strategy import ConfigRestore
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.scenario import load_scenario
from bot.state import config_versions
from bot.state.db import Database
from tests.strategies.test_config_restore import NS, PRINTS, SERVICE, TARGET
from tests.support import need_binary


class StillClock(SimClock):
    """Simulated time that does not move: every write is stamped with the same second."""

    def now(self) -> float:
        return self._base + self._offset


@dataclass
class Stopped:
    cluster: Cluster
    kubeconfig: Path
    api: client.ApiClient

    def kubectl(self, *args: str) -> str:
        done = subprocess.run(
            [need_binary("kubectl"), "--kubeconfig", str(self.kubeconfig), "-n", NS, *args],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def still(tmp_path: Path) -> Iterator[Stopped]:
    cluster = Cluster(load_scenario(), StillClock(start=math.floor(time.time()) + 0.5)).start()
    server = SandboxServer(make_api(cluster)).start()
    write_kubeconfig(tmp_path / "kubeconfig", server.url, NS)
    api = config.new_client_from_config(config_file=str(tmp_path / "kubeconfig"))
    yield Stopped(cluster, tmp_path / "kubeconfig", api)
    cluster.faults.clear()  # first: the server's close waits for a stalled answer
    api.close()
    server.stop()
    cluster.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    database.migrate()
    yield database
    database.dispose()


def until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for what the tracker records asynchronously."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "the tracker never recorded the expected versions"
        time.sleep(0.02)


def test_the_bots_restore_in_the_same_second_as_an_edit_is_recorded_as_the_bots_even_before_its_answer(
    still, db
):
    tracker = ConfigTracker(Catalog(services={"pricing": SERVICE}), db, lambda _: still.api, PRINTS)
    threading.Thread(target=tracker.follow, args=((None, NS), "ConfigMap"), daemon=True).start()

    def recorded() -> list:
        return config_versions.versions(db, NS, "ConfigMap", "pricing-config")

    until(lambda: len(recorded()) == 1)
    edit = {"metadata": {"annotations": {"note": "pricing from the legacy API"}},
            "data": {"PRICE_SOURCE": "legacy-api"}}  # the annotation stays kubectl-edit's after the restore
    still.kubectl("patch", "configmap", "pricing-config", "--type", "merge", "--field-manager", "kubectl-edit",
                  "-p", json.dumps(edit))
    until(lambda: len(recorded()) == 2)

    restore = ConfigRestore(still.api, config_versions.RecordedVersions(db, PRINTS))
    plan = restore.plan(TARGET)
    held = still.cluster.faults.delay(60, after=True, verb="patch", resource="configmaps")  # the answer waits
    writing = threading.Thread(target=restore.apply, args=(plan,), daemon=True)
    writing.start()
    until(lambda: len(recorded()) == 3)  # the watch saw the restore; its write has no answer yet
    assert writing.is_alive() and held.hits == 1
    still.cluster.faults.remove(held)
    writing.join(timeout=30)

    cm = json.loads(still.kubectl("get", "configmap", "pricing-config", "-o", "json", "--show-managed-fields"))
    stamps = {m["manager"]: m["time"] for m in cm["metadata"]["managedFields"]}
    assert stamps["kubectl-edit"] == stamps["rollback-bot"], "both writes in the same second"
    assert [v.changed_by for v in recorded()] == ["kubectl-client-side-apply", "kubectl-edit", "rollback-bot"]
    assert restore.history(TARGET)[-1].change_cause == "ConfigMap pricing-config: back to v1 by rollback-bot"


def test_a_person_editing_in_the_same_second_as_the_bots_restore_is_named_for_that_edit(still, db):
    """The other order: the bot's write, then a person's, in one second; the person's version is theirs."""

    def live() -> dict:
        return json.loads(still.kubectl("get", "configmap", "pricing-config", "-o", "json", "--show-managed-fields"))

    restore = ConfigRestore(still.api, config_versions.RecordedVersions(db, PRINTS))
    config_versions.record(db, "ConfigMap", live())
    still.kubectl("patch", "configmap", "pricing-config", "--type", "merge", "--field-manager", "kubectl-edit",
                  "-p", json.dumps({"data": {"PRICE_SOURCE": "legacy-api", "CURRENCY": "USD"}}))
    restore.apply(restore.plan(TARGET))  # CURRENCY and PRICE_SOURCE back, by rollback-bot
    restored = config_versions.record(db, "ConfigMap", live())
    assert restored is not None and restored.changed_by == "rollback-bot"
    still.kubectl("patch", "configmap", "pricing-config", "--type", "merge", "--field-manager", "kubectl-edit",
                  "-p", json.dumps({"data": {"CURRENCY": "GBP"}}))
    edited = config_versions.record(db, "ConfigMap", live())
    assert edited is not None and (edited.changed_by, edited.changed_keys) == ("kubectl-edit", ["CURRENCY"])
