"""Route53 DR failover (the game-server guide §5.2): the service's alias record UPSERTed to the DR load balancer,
then the RDS read replica promoted when one is declared.

Each step is its own ``DrStep`` with its own outcome, recorded as it ends (``on_step``): the failover is
complete only when every step succeeded, and ``summary`` never says more. The replica is promoted only after
the DNS switch succeeded: a promotion ends replication for good, and with the traffic still on the primary it
would split the data; it is then *skipped*, in words. Errors are ``AwsError``'s words (the resource, the IAM
action). Not yet wired to the failure card's two-person action (see the report of issue 15).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.providers.aws.errors import AwsError, call

IAM = (
    "route53:ChangeResourceRecordSets",
    "rds:DescribeDBInstances",
    "rds:PromoteReadReplica",
)


@dataclass(frozen=True)
class DrTarget:
    """Where the failover goes: the record (``shop.example.com.`` in ``hosted_zone_id``) and the DR ALB's DNS name
    and canonical hosted zone id; ``replica``: the RDS read replica to promote (``""``: none declared)."""

    hosted_zone_id: str
    record_name: str
    dr_dns_name: str
    dr_zone_id: str
    region: str
    replica: str = ""
    record_type: str = "A"
    profile: str = ""


@dataclass(frozen=True)
class DrStep:
    name: str  # "DNS switch", "database promotion"
    outcome: str  # succeeded | failed | skipped
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == "succeeded"


def failover(clients: Any, t: DrTarget, on_step: Callable[[DrStep], None] = lambda _: None) -> list[DrStep]:
    """Run the steps in order; each one's outcome reported to ``on_step`` as it ends."""
    session = clients.aws(t.profile or None, t.region)
    steps = [_switch_dns(session.client("route53"), t)]
    on_step(steps[-1])
    if t.replica:
        if steps[-1].ok:
            steps.append(_promote(session.client("rds"), t))
        else:
            steps.append(
                DrStep(
                    "database promotion",
                    "skipped",
                    f"{t.replica} left replicating: the DNS switch "
                    "failed, and promoting it with the traffic still on the primary would split the data",
                )
            )
        on_step(steps[-1])
    return steps


def _switch_dns(route53: Any, t: DrTarget) -> DrStep:
    alias = {"HostedZoneId": t.dr_zone_id, "DNSName": t.dr_dns_name, "EvaluateTargetHealth": True}
    change = {
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": t.record_name, "Type": t.record_type, "AliasTarget": alias},
    }
    try:
        answer = call(
            route53,
            "change_resource_record_sets",
            f"Route53 record {t.record_name} in hosted zone {t.hosted_zone_id}",
            "the record was not changed",
            HostedZoneId=t.hosted_zone_id,
            ChangeBatch={"Comment": "rollback-bot DR failover", "Changes": [change]},
        )
    except AwsError as exc:
        return DrStep("DNS switch", "failed", str(exc))
    status = (answer.get("ChangeInfo") or {}).get("Status", "PENDING")
    return DrStep("DNS switch", "succeeded", f"{t.record_name} now aliases {t.dr_dns_name} (change {status})")


def _promote(rds: Any, t: DrTarget) -> DrStep:
    where = f"RDS instance {t.replica} ({t.region})"
    try:
        found = call(
            rds, "describe_db_instances", where, "the replica was not promoted", DBInstanceIdentifier=t.replica
        )
        instance = (found.get("DBInstances") or [{}])[0]
        if not instance.get("ReadReplicaSourceDBInstanceIdentifier"):
            return DrStep(
                "database promotion",
                "failed",
                f"{where} is not a read replica (already promoted, or the wrong instance): nothing was promoted",
            )
        call(rds, "promote_read_replica", where, "the replica was not promoted", DBInstanceIdentifier=t.replica)
    except AwsError as exc:
        return DrStep("database promotion", "failed", str(exc))
    source = instance["ReadReplicaSourceDBInstanceIdentifier"]
    return DrStep("database promotion", "succeeded", f"{t.replica} promoted (it no longer replicates {source})")


_MARK = {"succeeded": ":white_check_mark:", "failed": ":x:", "skipped": ":fast_forward:"}


def summary(steps: list[DrStep]) -> str:
    """One line for people: complete only when every step succeeded."""
    lines = [
        f"{_MARK[s.outcome]} {s.name}: {s.outcome} — {s.detail}" for s in steps
    ]
    if all(s.ok for s in steps):
        return "DR failover complete:\n" + "\n".join(lines)
    failed = ", ".join(s.name for s in steps if not s.ok)
    return f"DR failover INCOMPLETE ({failed} did not succeed):\n" + "\n".join(lines)
