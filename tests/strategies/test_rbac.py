"""Each Kubernetes strategy's RBAC rules (``StrategySpec.rbac``) allow every call it makes: its history, plan,
rollback, wait, verification and emergency scale, played against the sandbox's API server, which sees each
request as the authorizer does (verb, API group, resource)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.config import load_catalog
from bot.incidents.common import target
from bot.providers.clients import Clients
from bot.sandbox.world import World
from bot.state.config_versions import RecordedVersions
from bot.state.db import Database
from bot.strategies import registry
from bot.strategies.base import RollbackError
from bot.strategies.registry import BuildContext, StrategySpec

SERVICES = {  # strategy -> the sandbox scenario's service that uses it
    "kubernetes": "shopping-service",
    "statefulset": "ledger",
    "blue-green": "storefront",
    "canary": "checkout",
    "config": "pricing",
}


@pytest.fixture(scope="module")
def world():
    with World(prometheus=False, clock_scale=60) as w:
        yield w


def allowed(spec: StrategySpec, verb: str, group: str, resource: str) -> bool:
    return any(group in r.api_groups and resource in r.resources and verb in r.verbs for r in spec.rbac)


def calls_of(world: World, strategy: str) -> set[tuple[str, str, str]]:
    """(verb, group, resource) of every request a whole rollback of the strategy's service sent."""
    seen: set[tuple[str, str, str]] = set()
    serve = world.k8s_faults.serve

    def recording(call, handle):
        seen.add((call.verb, call.res.group, call.resource))
        return serve(call, handle)

    world.k8s_faults.serve = recording
    try:
        service = load_catalog(world.catalog_path).get(SERVICES[strategy])
        db = Database(f"sqlite:///{world.state_dir / 'rbac.db'}")
        db.migrate()
        s = registry.spec(strategy).build(BuildContext(Clients(str(world.kubeconfig)), RecordedVersions(db)))
        s.history(target(service))
        try:
            plan = s.plan(target(service))
        except RollbackError:  # config: no recorded version to go back to; its reads were made
            return seen
        if strategy == "blue-green":
            s.prepare(plan, lambda p: None, 120)  # the "prepare" step: the idle colour scaled up
        s.apply(plan)
        s.wait(dataclasses.replace(plan.target, to_revision=plan.desired.number), lambda p: None, 120)
        s.verify(plan)
        s.scale(target(service), 0)
    finally:
        world.k8s_faults.serve = serve
    return seen


@pytest.mark.parametrize("strategy", list(SERVICES))
def test_the_rules_allow_every_call_the_strategy_makes(world, strategy):
    spec = registry.spec(strategy)
    calls = calls_of(world, strategy)
    assert calls, "the strategy must have called the API server"
    refused = sorted(c for c in calls if not allowed(spec, *c))
    assert refused == [], f"{strategy} calls these without a rule: {refused}"
