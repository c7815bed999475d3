"""Fixtures for the service simulator: the default scenario and a hand-set list of pods."""

from __future__ import annotations

import pytest

from bot.sandbox.clock import SimClock
from bot.sandbox.scenario import Scenario, load_scenario

GOOD = "registry.local/shopping-service:v1.2.4"
BAD = "registry.local/shopping-service:v1.2.5"
CRASHLOOP = "registry.local/shopping-service:v1.2.6-crashloop"


def make_pod(name: str, image: str, ready: bool = True, restarts: int = 0) -> dict:
    """A pod as the Kubernetes simulator lists it (only the fields the service simulator reads)."""
    return {
        "metadata": {"name": name, "namespace": "shopping", "labels": {"app": "shopping-service"}},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "app", "image": image, "ready": ready, "restartCount": restarts}],
        },
    }


class Pods:
    """A mutable pods provider standing in for the cluster in unit tests."""

    def __init__(self, pods: list[dict] | None = None) -> None:
        self.pods = list(pods or [])

    def set_image(self, image: str, count: int = 3, ready: bool = True) -> None:
        self.pods = [make_pod(f"shopping-service-{i}", image, ready) for i in range(count)]

    def __call__(self) -> list[dict]:
        return list(self.pods)


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario()


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def pods() -> Pods:
    provider = Pods()
    provider.set_image(BAD)
    return provider
