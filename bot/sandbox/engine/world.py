"""The Engine simulator as a part of the sandbox world: its server on loopback, its seeded services, what the
service simulator routes to, and the catalog entry of a Swarm service (``World(swarm=True)``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.sandbox.clock import SimClock
from bot.sandbox.engine import seed
from bot.sandbox.engine.api import EngineApi
from bot.sandbox.engine.model import Swarm
from bot.sandbox.httpserver import SandboxServer
from bot.sandbox.scenario import Scenario, ServiceSpec


class SwarmEngine:
    """Each Swarm service starts on the release before its last (its ``PreviousSpec`` the one before that): the
    last is what CI deploys in the story (``deploy``), after the bot has seen the service."""

    def __init__(self, scenario: Scenario, clock: SimClock) -> None:
        self.scenario = scenario
        self.swarm = Swarm(scenario, clock)
        self.api = EngineApi(self.swarm)
        self.server: SandboxServer | None = None

    def start(self, state_dir: Path | None = None) -> SwarmEngine:
        for svc in self.scenario.services:
            if svc.swarm:
                seed.seed(self.swarm, svc, live=-2)
        self.server = SandboxServer(self.api).start()
        return self

    @property
    def host(self) -> str:
        """``tcp://127.0.0.1:<port>``: DOCKER_HOST for the CLI, the catalog's ``host``."""
        assert self.server is not None
        return f"tcp://{self.server.host}:{self.server.port}"

    def cli_env(self) -> dict[str, str]:
        """The environment the real ``docker`` CLI reaches this Engine with (no TLS on loopback)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return {**env, "DOCKER_HOST": self.host}

    def catalog_entry(self, svc: ServiceSpec) -> dict[str, Any]:
        return {"strategy": "swarm", "options": {"host": self.host, "service": svc.name}}

    def routes(self, name: str) -> list[tuple[float, list[dict]]]:
        return seed.routes(self.swarm, name)

    def deploy(self, name: str, revision: int = -1) -> None:
        """CI releases the scenario's ``revision`` of ``name`` (``docker service update``)."""
        seed.deploy(self.swarm, name, self.scenario.service(name), revision)

    def relabel(self, name: str, **labels: str) -> None:
        """Another client's write: new labels on the live spec (``docker service update --label-add``)."""
        found = self.swarm.find(name)
        spec = {**found.spec, "Labels": {**(found.spec.get("Labels") or {}), **labels}}
        self.swarm.update(found.id, str(found.index), spec)

    def service(self, name: str) -> dict:
        """The service as ``GET /services/{name}`` answers it."""
        return self.api.service_json(self.swarm.find(name))

    def stop(self) -> None:
        if self.server:
            self.server.stop()
