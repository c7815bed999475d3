"""The ``swarm`` strategy's spec: a Docker Swarm service back to its ``PreviousSpec`` (the Engine's rollback),
or to a spec the bot recorded (a ``service update`` guarded by ``Version.Index``)."""

from __future__ import annotations

from typing import Any

from bot.providers.docker.swarm.options import SwarmOptions
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, Emergency, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    # Imported when first needed: the docker SDK costs start-up time a report or check-config does not need.
    from bot.providers.docker.swarm.strategy import SwarmRollback

    return SwarmRollback(ctx.clients, ctx.versions)


def _locate(service: Any) -> dict[str, str]:
    """Where a Swarm service runs, in Docker's words: the Engine endpoint and the service."""
    o: SwarmOptions = service.options
    return {"host": o.host, "service": o.service}


SPEC = StrategySpec(
    name="swarm",
    provider="docker",
    build=_build,
    options=SwarmOptions,
    # No GitOps controller and no backup Job on Swarm: the steps are the rollback itself.
    steps=("pre-checks", "rollback", "wait for rollout", "verify"),
    emergency=Emergency(
        "Choose another revision…",
        "roll back to another spec the bot recorded (*Choose another revision…*)",
        "Scale to zero",
        "The Swarm service *{service}* is set to 0 replicas: every task stops, and the service is DOWN until "
        "someone scales it up again (`docker service scale {service}=N`).",
    ),
    locate=_locate,
    check_by_hand="`DOCKER_HOST={host} docker service ps {service}`",
    rank=60,
    description="Docker Swarm service back to its previous spec, or to a recorded one",
)
