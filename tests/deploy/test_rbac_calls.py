"""The Roles `rollback-bot rbac` generates allow every API call the bot makes, and nothing it does not make.

One sandbox world holds a service of every built-in Kubernetes strategy, workloads of each GitOps controller
and a backup Job in a namespace of its own; a whole incident of each is played over signed Slack requests
(declare, plan, confirm, verification, an emergency scale to zero, sync resumed) with the worker and its
config tracker running. The simulated API server logs every request as its authorizer sees it; each one
must be granted by the Role of its namespace, and every (apiGroup, resource, verb) the Roles grant must have
been used.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from kubernetes import client, config

from bot.config import load_catalog
from bot.providers.kubernetes import roles
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.k8s.requests import Logged
from bot.sandbox.scenario import Scenario, load_scenario
from bot.sandbox.world import LEAD, ONCALL, World
from bot.slack.views import ActionId
from bot.state import config_versions
from bot.strategies.versions import Fingerprints
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_strategies import OUTCOMES, prefix
from tests.support import need_binary

EXTRA = Path(__file__).parent.parent / "scenarios" / "rbac_gitops.yaml"
TEST_AGENT = "rbac-test"
# Granted, and not called here: pricing goes back one version, the Secret's rotation, so its ConfigMap is not
# written (tests/e2e/test_strategies.py plays that restore). Listed so the test fails when that changes too.
NOT_PLAYED = {("", "configmaps", "patch")}
GITOPS = roles.Options(argocd_namespace="argocd", flux_namespace="flux-system")


@pytest.fixture(scope="module")
def world():
    need_binary("prometheus")
    base, extra = load_scenario(), load_scenario(EXTRA)
    scenario = Scenario(services=base.services + extra.services, images={**base.images, **extra.images})
    overrides = {**QUICK_BAKE, "canary": {"step_pause": "2s", "after": "delete"}}
    with World(scenario, prometheus=True, catalog_overrides=overrides) as w:
        yield w


def roll_back(alice: OnCall, service: str) -> tuple[str, str]:
    """Declare, roll back to the previous release, confirm: the channel and the outcome's text."""
    alice.type(f"{service} failing")
    channel = alice.channel(prefix(service))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    return channel.id, alice.message_saying(channel.id, *OUTCOMES, timeout=150)["text"]


@pytest.fixture(scope="module")
def calls(world) -> list[Logged]:
    """Every request the bot sent while it handled an incident of each service."""
    world.cluster.requests.clear()
    with BotHarness(world) as bot:
        alice, carol = OnCall(bot, ONCALL), OnCall(bot, LEAD)
        for service in ("shopping-service", "storefront", "checkout", "flux-app", "helm-app"):
            _, outcome = roll_back(alice, service)
            assert "is back on" in outcome, outcome
        channel, outcome = roll_back(alice, "argo-app")  # a backup Job in "backups" first, sync suspended
        assert "is back on" in outcome and "suspended" in outcome, outcome
        alice.click(channel, ActionId.RESUME_SYNC)
        alice.message_saying(channel, "back on", timeout=20)

        world.mark_image("registry.local/ledger:v4.1.0", crashloop=True)  # the rollback fails: scale to zero
        channel, outcome = roll_back(alice, "ledger")
        assert "FAILED" in outcome or "NOT healthy" in outcome, outcome
        carol.click(channel, ActionId.SCALE_TO_ZERO)
        alice.message_saying(channel, "scaled ledger to zero", timeout=20)

        # pricing: the ConfigMap changed, then its Secret rotated; going back one version restores the Secret
        # from the one a rotation left behind (the ConfigMap stays bad: that rollback is not verified)
        core = client.CoreV1Api(_client(world))
        old = {"token": base64.b64encode(b"sandbox-token-1").decode()}
        core.create_namespaced_secret("pricing", {"metadata": {"name": "pricing-credentials-old"}, "data": old})
        bot.wait_for("the tracker's first record", lambda: _recorded(bot, "ConfigMap", "pricing-config") or None)
        world.apply_config_change("pricing")
        bot.wait_for("the ConfigMap's change", lambda: _recorded(bot, "ConfigMap", "pricing-config") >= 2 or None)
        rotated = {"token": base64.b64encode(b"rotated-token-2").decode()}
        core.patch_namespaced_secret("pricing-credentials", "pricing", {"data": rotated})
        bot.wait_for("the rotation", lambda: _recorded(bot, "Secret", "pricing-credentials") >= 2 or None)
        channel, outcome = roll_back(alice, "pricing")
        assert "copied from Secret pricing-credentials-old" in world.slack.transcript(channel), outcome
    return [c for c in world.cluster.requests.entries() if c.user_agent != TEST_AGENT]


def _recorded(bot: BotHarness, kind: str, name: str) -> int:
    prints = Fingerprints.of(bot.rt.settings.config_fingerprint_key)
    return len(config_versions.versions(bot.rt.db, "pricing", kind, name, prints))


def _price_source(world: World) -> str:
    return (world.cluster.get("configmaps", "pricing", "pricing-config") or {}).get("data", {}).get("PRICE_SOURCE")


def _client(world: World) -> client.ApiClient:
    """The test's own client, told apart from the bot's in the request log by its User-Agent."""
    api = config.new_client_from_config(config_file=str(world.kubeconfig))
    api.user_agent = TEST_AGENT
    return api


def test_every_call_is_granted_by_the_role_of_its_namespace(world, calls):
    granted = roles.grants(load_catalog(world.catalog_path), GITOPS)
    refused = sorted(
        {(c.namespace or "(cluster)", *c.grant) for c in calls if c.grant not in granted.get(c.namespace or "", ())}
    )
    assert refused == [], f"calls no Role allows: {refused}"


def test_every_granted_verb_is_used(world, calls):
    granted = roles.grants(load_catalog(world.catalog_path), GITOPS)
    used = {c.grant for c in calls}
    unused = set().union(*granted.values()) - used
    assert unused == NOT_PLAYED, f"granted, never called: {sorted(unused - NOT_PLAYED)}"
    assert {c.namespace for c in calls} == set(granted), "a Role in each namespace the bot calls, and only there"
