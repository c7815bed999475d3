"""Route53 DR failover against moto in server mode (through the sandbox's front): the alias UPSERTed to the DR
ALB and the read replica promoted, each step with its own outcome; a failed step is never a complete failover,
and a failed DNS switch leaves the replica replicating. The calls are the ones the policy grants."""

from __future__ import annotations

import pytest

from bot.providers.aws import dr
from bot.providers.aws.iam import FEATURES
from bot.sandbox.aws_dr import alias_of
from bot.sandbox.world import World


@pytest.fixture
def world(monkeypatch):
    with World(prometheus=False, dr=True) as w:
        for key, value in w.aws.env().items():
            monkeypatch.setenv(key, value)
        yield w


@pytest.fixture
def site(world):
    return world.dr


def target(site, **changes) -> dr.DrTarget:
    base = dict(
        hosted_zone_id=site.hosted_zone_id,
        record_name=site.record_name,
        dr_dns_name=site.dr,
        dr_zone_id=site.dr_zone_id,
        region="us-east-1",
        replica=site.replica,
    )
    return dr.DrTarget(**{**base, **changes})


def replica_source(world, name: str) -> str | None:
    found = world.aws.client("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return found.get("ReadReplicaSourceDBInstanceIdentifier")


def test_the_failover_switches_the_alias_then_promotes_the_replica_each_step_recorded(world, clients, site):
    world.aws.front.forget_calls()
    recorded = []
    steps = dr.failover(clients, target(site), recorded.append)
    assert [(s.name, s.outcome) for s in steps] == [("DNS switch", "succeeded"), ("database promotion", "succeeded")]
    assert recorded == steps  # each step told as it ended
    assert set(world.aws.front.calls) == set(FEATURES["dr-failover"])  # what the policy grants, no more
    assert alias_of(world.aws.url, site.hosted_zone_id) == site.dr
    assert replica_source(world, site.replica) is None  # promoted: it no longer replicates
    assert dr.summary(steps).startswith("DR failover complete:")


def test_a_failed_promotion_is_reported_as_an_incomplete_failover(world, clients, site):
    world.aws.front.fail("rds:PromoteReadReplica", "AccessDenied")
    steps = dr.failover(clients, target(site))
    assert [(s.name, s.outcome) for s in steps] == [("DNS switch", "succeeded"), ("database promotion", "failed")]
    assert "Grant `rds:PromoteReadReplica`" in steps[1].detail and f"RDS instance {site.replica}" in steps[1].detail
    text = dr.summary(steps)
    assert text.startswith("DR failover INCOMPLETE (database promotion did not succeed)") and "complete:" not in text
    assert replica_source(world, site.replica) == site.database  # still a replica


def test_a_missing_zone_fails_the_dns_switch_and_the_replica_is_left_replicating(world, clients, site):
    steps = dr.failover(clients, target(site, hosted_zone_id="Z0000000NOSUCH"))
    assert [(s.name, s.outcome) for s in steps] == [("DNS switch", "failed"), ("database promotion", "skipped")]
    assert "hosted zone Z0000000NOSUCH" in steps[0].detail and "route53:ChangeResourceRecordSets" in steps[0].detail
    assert "left replicating" in steps[1].detail
    assert replica_source(world, site.replica) == site.database
    assert alias_of(world.aws.url, site.hosted_zone_id) == site.primary


def test_without_a_declared_replica_only_the_dns_moves(world, clients, site):
    steps = dr.failover(clients, target(site, replica=""))
    assert [(s.name, s.outcome) for s in steps] == [("DNS switch", "succeeded")]
    assert replica_source(world, site.replica) == site.database
