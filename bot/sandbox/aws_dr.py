"""The DR side of the sandbox's AWS account, seeded in moto only when asked (``seed_dr``): a Route53 hosted zone
whose alias record points at the primary ALB, health checks on the primary and the DR ALBs, and an RDS instance
with a read replica (the DR failover promotes it). moto models all of it; the ALBs are only their DNS names here
(moto's Route53 does not resolve an alias target).

Where moto does not model it: a promoted replica keeps its ``ReadReplicaSourceDBInstanceIdentifier`` in moto's
``DescribeDBInstances``; the front's hooks (``install``) drop it once ``PromoteReadReplica`` succeeded, as RDS
does."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs

from bot.sandbox.aws import AwsFront, client_for
from bot.sandbox.httpserver import Request, Response

ZONE = "shop.example.com."
RECORD = "orders.shop.example.com."
ALB_ZONE = "Z35SXDOTRQ7X7K"  # us-east-1's canonical hosted zone id of ALBs
PRIMARY = "orders-primary-123456789.us-east-1.elb.amazonaws.com"
DR = "orders-dr-987654321.us-east-1.elb.amazonaws.com"
DATABASE, REPLICA = "orders-db", "orders-db-replica"


@dataclass(frozen=True)
class DrWorld:
    hosted_zone_id: str
    record_name: str
    primary: str
    dr: str
    dr_zone_id: str
    database: str
    replica: str
    health_checks: tuple[str, ...]


class Promotions:
    """The replicas promoted so far, and the hooks that show them promoted."""

    def __init__(self) -> None:
        self.promoted: set[str] = set()
        self._lock = threading.Lock()

    def install(self, front: AwsFront) -> None:
        front.hooks["rds:PromoteReadReplica"] = self._promote
        front.hooks["rds:DescribeDBInstances"] = self._describe

    def _promote(self, req: Request, forward) -> Response:
        answer = forward(req)
        if answer.status == 200:
            name = (parse_qs(req.body.decode()).get("DBInstanceIdentifier") or [""])[0]
            with self._lock:
                self.promoted.add(name)
        return answer

    def _describe(self, req: Request, forward) -> Response:
        answer = forward(req)
        with self._lock:
            promoted = set(self.promoted)
        body = answer.body.decode()
        for name in promoted:
            pattern = rf"(<DBInstance>(?:(?!</DBInstance>).)*?<DBInstanceIdentifier>{re.escape(name)}"
            pattern += r"</DBInstanceIdentifier>(?:(?!</DBInstance>).)*?)<ReadReplicaSourceDBInstanceIdentifier>[^<]*"
            pattern += r"</ReadReplicaSourceDBInstanceIdentifier>"
            body = re.sub(pattern, r"\1", body, flags=re.S)
        return Response(answer.status, body.encode(), answer.headers)


def seed_dr(url: str, front: AwsFront | None = None) -> DrWorld:
    """Create the zone, its record, the health checks, the database and its replica in moto at ``url``; with
    ``front``, its hooks show a promoted replica as RDS does."""
    if front is not None:
        Promotions().install(front)
    route53, rds = client_for(url, "route53"), client_for(url, "rds")
    zone = route53.create_hosted_zone(Name=ZONE, CallerReference="sandbox-dr")["HostedZone"]["Id"].split("/")[-1]
    checks = tuple(
        route53.create_health_check(
            CallerReference=f"sandbox-{name}",
            HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": name, "ResourcePath": "/health"},
        )["HealthCheck"]["Id"]
        for name in (PRIMARY, DR)
    )
    alias = {"HostedZoneId": ALB_ZONE, "DNSName": PRIMARY, "EvaluateTargetHealth": True}
    change = {"Action": "CREATE", "ResourceRecordSet": {"Name": RECORD, "Type": "A", "AliasTarget": alias}}
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [change]})
    rds.create_db_instance(
        DBInstanceIdentifier=DATABASE,
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        MasterUsername="orders",
        MasterUserPassword="sandbox-only",
        AllocatedStorage=20,
    )
    rds.create_db_instance_read_replica(DBInstanceIdentifier=REPLICA, SourceDBInstanceIdentifier=DATABASE)
    return DrWorld(zone, RECORD, PRIMARY, DR, ALB_ZONE, DATABASE, REPLICA, checks)


def alias_of(url: str, zone: str, record: str = RECORD) -> str:
    """Where ``record`` points now (its alias target's DNS name)."""
    sets = client_for(url, "route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    found = next(r for r in sets if r["Name"] == record)
    return found["AliasTarget"]["DNSName"].rstrip(".")
