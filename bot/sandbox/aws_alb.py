"""A service behind an ALB, in moto: what the ``aws-alb`` strategy acts on, and what moto does not model of it.

moto keeps the load balancer, its listener and rule (forwarding to two target groups by weight) and the target
groups with their ip targets, and answers every call. It does not run health checks: ``DescribeTargetHealth``
goes to moto (it checks the target group) and each target's state is then laid over it from how the scenario
says the target group's release behaves now: healthy, or unhealthy (``Target.ResponseCodeMismatch`` when most of
its requests fail, ``Target.Timeout`` when it crash-loops). ``World.mark_image`` changes it from then on.

``routes(service)`` gives the service simulator each target group's weight, read from the rule in moto at every
scrape, and its targets as pods running its release, so the simulator's traffic (and Prometheus) follows the
weights the bot sets.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs

from bot.sandbox.aws import AwsFront, client_for
from bot.sandbox.httpserver import Request, Response
from bot.sandbox.scenario import Revision, Scenario, ServiceSpec

NS = {"e": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"}


@dataclass
class _Alb:
    spec: ServiceSpec
    rule: str  # the listener rule's ARN
    groups: dict[str, tuple[str, Revision]]  # target group ARN -> (name, release)
    dns: str  # the load balancer's DNS name (a CloudFront origin)


class AlbTraffic:
    """The scenario's ALB services in moto (``seed``), their target health (``install``) and traffic (``routes``)."""

    def __init__(self, scenario: Scenario, moto_url: str) -> None:
        self.scenario = scenario
        self._elb = client_for(moto_url, "elbv2")  # moto directly: what the model reads is not the bot's call
        self._ec2 = client_for(moto_url, "ec2")
        self._albs: dict[str, _Alb] = {}  # service name -> its ALB
        self._lock = threading.Lock()

    def install(self, front: AwsFront) -> None:
        front.hooks["elasticloadbalancing:DescribeTargetHealth"] = self._describe_target_health

    def rule_arn(self, service: str) -> str:
        return self._albs[service].rule

    def target_group(self, service: str, track: str) -> str:
        """The ARN of ``<service>-<track>`` (track: stable or release)."""
        return next(arn for arn, (name, _) in self._albs[service].groups.items() if name == f"{service}-{track}")

    def dns_name(self, service: str) -> str:
        return self._albs[service].dns

    # -- seeding ------------------------------------------------------------------------------------------

    def seed(self, spec: ServiceSpec) -> None:
        """The load balancer in the default VPC, the two target groups (tagged with their release), their
        targets, an HTTP listener and the rule that splits the traffic by weight."""
        elb, cfg = self._elb, spec.alb
        vpc = self._ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in self._ec2.describe_subnets()["Subnets"] if s["VpcId"] == vpc][:2]
        lb = elb.create_load_balancer(Name=spec.name, Subnets=subnets)["LoadBalancers"][0]
        groups: dict[str, tuple[str, Revision]] = {}
        for i, (track, rev) in enumerate((("stable", cfg.stable), ("release", cfg.release))):
            tags = [{"Key": "image", "Value": rev.image}]
            tags += [{"Key": "change-cause", "Value": rev.change_cause}] if rev.change_cause else []
            tg = elb.create_target_group(
                Name=f"{spec.name}-{track}",
                Protocol="HTTP",
                Port=spec.port,
                VpcId=vpc,
                TargetType="ip",
                HealthCheckPath="/actuator/health",
                Tags=tags,
            )
            arn = tg["TargetGroups"][0]["TargetGroupArn"]
            targets = [{"Id": f"10.0.{i + 1}.{n + 10}", "Port": spec.port} for n in range(spec.replicas)]
            elb.register_targets(TargetGroupArn=arn, Targets=targets)
            groups[arn] = (f"{spec.name}-{track}", rev)
        listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )["Listeners"][0]
        stable, release = list(groups)
        forward = {
            "TargetGroups": [
                {"TargetGroupArn": stable, "Weight": 100 - cfg.weight},
                {"TargetGroupArn": release, "Weight": cfg.weight},
            ]
        }
        rule = elb.create_rule(
            ListenerArn=listener["ListenerArn"],
            Priority=10,
            Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=[{"Type": "forward", "ForwardConfig": forward}],
        )["Rules"][0]
        with self._lock:
            self._albs[spec.name] = _Alb(spec, rule["RuleArn"], groups, lb["DNSName"])

    # -- health ---------------------------------------------------------------------------------------------

    def _state(self, release: Revision) -> tuple[str, str, str]:
        """(State, Reason, Description) of a target running ``release``, as ELB's health checks would find it."""
        b = self.scenario.behaviour(release.image, {k: str(v) for k, v in release.env.items()})
        if b.crashloop:
            return "unhealthy", "Target.Timeout", "Request timed out"
        if b.error_rate >= 0.5:
            return "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]"
        return "healthy", "", ""

    def _describe_target_health(self, req: Request, forward) -> Response:
        answer = forward(req)
        if answer.status != 200:
            return answer
        arn = (parse_qs(req.body.decode("utf-8", "replace")) or req.query).get("TargetGroupArn", [""])[0]
        found = next((g for alb in self._albs.values() for a, g in alb.groups.items() if a == arn), None)
        if found is None:
            return answer
        state, reason, description = self._state(found[1])
        root = ET.fromstring(answer.body)
        for health in root.iter(f"{{{NS['e']}}}TargetHealth"):
            for child in list(health):
                health.remove(child)
            for tag, value in (("State", state), ("Reason", reason), ("Description", description)):
                if value:
                    ET.SubElement(health, f"{{{NS['e']}}}{tag}").text = value
        ET.register_namespace("", NS["e"])
        return Response(answer.status, ET.tostring(root, encoding="utf-8"), answer.headers)

    # -- traffic ------------------------------------------------------------------------------------------------

    def routes(self, name: str) -> list[tuple[float, list[dict]]]:
        """Each target group's weight (from the rule in moto) and its targets as pods running its release."""
        alb = self._albs.get(name)
        if alb is None:
            return [(100.0, [])]
        rule = self._elb.describe_rules(RuleArns=[alb.rule])["Rules"][0]
        forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
        out = []
        for group in forward["ForwardConfig"]["TargetGroups"]:
            tg_name, release = alb.groups[group["TargetGroupArn"]]
            ready = not self.scenario.behaviour(release.image).crashloop
            pods = [_target_pod(f"{tg_name}-{n}", alb.spec.container, release, ready) for n in range(alb.spec.replicas)]
            out.append((float(group.get("Weight", 0)), pods))
        return out


def _target_pod(name: str, container: str, release: Revision, ready: bool) -> dict:
    env = [{"name": k, "value": str(v)} for k, v in release.env.items()]
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": container, "image": release.image, "env": env}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"restartCount": 0}],
        },
    }
