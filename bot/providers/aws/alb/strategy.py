"""``AlbSwitch``: the ``Strategy`` protocol, and the ``Router`` capability, on an ALB listener rule that forwards
to two target groups by weight.

The rollback moves the weight back to the catalog's ``stable`` target group: all at once, or step by step like a
canary (the run's "step down" step, ``bot.steps.traffic``). Before each move toward it the stable target group's
targets are read with ``DescribeTargetHealth``: one that is not healthy refuses the move, and nothing changes.
A target group's release is read from its tags (``image``, ``change-cause``), as a deploy pipeline writes them.
Every call goes through ``bot.providers.aws.errors.call``: a failure names the resource and the IAM action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.providers.aws.alb.options import AlbOptions, target_group_arn
from bot.providers.aws.alb.spec import SPEC
from bot.providers.aws.errors import AwsError, call
from bot.strategies.base import Check, ConcurrentChange, Plan, Progress, Revision, RollbackError, Target, Verification
from bot.strategies.options import from_options

NOTHING_CHANGED = "nothing was changed"
IMAGE_TAG, CHANGE_CAUSE_TAG = "image", "change-cause"


@dataclass(frozen=True)
class _Group:
    arn: str
    name: str
    weight: int  # its share (%) of the rule's traffic now
    tags: dict[str, str]


@dataclass(frozen=True)
class _Rule:
    options: AlbOptions
    actions: list[dict]  # the rule's actions as ELB gave them
    stable: _Group
    release: _Group

    @property
    def where(self) -> str:
        return self.options.where


def _weights(action: dict) -> dict[str, int]:
    """Target group ARN -> weight of a forward action (a plain TargetGroupArn: that one, all of the traffic)."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if not groups and action.get("TargetGroupArn"):
        return {action["TargetGroupArn"]: 1}
    return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}


def _health_words(descriptions: list[dict]) -> tuple[int, list[str]]:
    """(healthy targets, the others in words: ``10.0.1.7:8080 unhealthy (Target.ResponseCodeMismatch)``)."""
    healthy, others = 0, []
    for d in descriptions:
        state = d.get("TargetHealth") or {}
        if state.get("State") == "healthy":
            healthy += 1
            continue
        target = d.get("Target") or {}
        reason = state.get("Reason") or state.get("Description") or ""
        others.append(
            f"{target.get('Id', '?')}:{target.get('Port', '')} {state.get('State', 'unknown')}"
            + (f" ({reason})" if reason else "")
        )
    return healthy, others


class AlbSwitch:
    name = SPEC.name
    steps = SPEC.steps
    pre_check_detail = "the listener rule forwards to both target groups and the stable one is healthy"

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    @staticmethod
    def _options(target: Target) -> AlbOptions:
        return from_options(AlbOptions, target.options)

    def _elb(self, o: AlbOptions) -> Any:
        return self.clients.aws(o.profile or None, o.region).client("elbv2")

    # -- reading -----------------------------------------------------------------------------------

    def _read(self, target: Target, consequence: str = NOTHING_CHANGED, tags: bool = True) -> _Rule:
        """The rule's forward weights by target group (one ``DescribeRules``; the releases' tags only when
        ``tags``: a move needs none)."""
        o = self._options(target)
        elb = self._elb(o)
        rules = call(elb, "describe_rules", o.where, consequence, RuleArns=[o.rule]).get("Rules") or []
        actions = (rules[0].get("Actions") or []) if rules else []
        forward = next((a for a in actions if a.get("Type") == "forward"), None)
        if forward is None:
            raise RollbackError(
                f"{o.where} does not forward to target groups; {consequence}. Check options.rule "
                "in the services catalog: it names the rule that splits traffic by weight."
            )
        weights = _weights(forward)
        stable = next((a for a in weights if o.stable in (a, a.split("/")[-2])), "")
        others = [arn for arn in weights if arn != stable]
        if not stable or len(others) != 1:
            raise RollbackError(self._not_forwarded(elb, o, weights, consequence))
        found = {}
        if tags:
            described = call(
                elb, "describe_tags", f"the target groups of {o.where}", consequence, ResourceArns=list(weights)
            ).get("TagDescriptions")
            found = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d.get("Tags") or []} for d in described or []}
        total = sum(weights.values()) or 1

        def group(arn: str) -> _Group:
            return _Group(arn, arn.split("/")[-2], round(100 * weights[arn] / total), found.get(arn, {}))

        return _Rule(o, actions, group(stable), group(others[0]))

    @staticmethod
    def _not_forwarded(elb: Any, o: AlbOptions, weights: dict[str, int], consequence: str) -> str:
        """Why the rule is not a split between the stable target group and one other: the stable one missing
        from AWS (``DescribeTargetGroups`` says so, in words), or not in the rule."""
        ref = {"TargetGroupArns": [o.stable]} if target_group_arn(o.stable) else {"Names": [o.stable]}
        stable = call(elb, "describe_target_groups", f"target group {o.stable} of {o.where}", consequence, **ref)
        name = (stable.get("TargetGroups") or [{}])[0].get("TargetGroupName", o.stable)
        names = ", ".join(a.split("/")[-2] for a in weights) or "none"
        return (
            f"{o.where} forwards to {names}, not to {name} and one other target group; {consequence}. Check "
            "options.stable and options.rule in the services catalog: the rule must forward to the stable target "
            "group and the release's."
        )

    def _health(self, rule: _Rule, consequence: str = NOTHING_CHANGED) -> tuple[int, list[str]]:
        found = call(
            self._elb(rule.options),
            "describe_target_health",
            f"target group {rule.stable.name} of {rule.where}",
            consequence,
            TargetGroupArn=rule.stable.arn,
        )
        return _health_words(found.get("TargetHealthDescriptions") or [])

    def _refuse_unhealthy(self, rule: _Rule) -> str:
        """The stable target group's health in words; RollbackError (nothing changed) when it is not all healthy."""
        healthy, others = self._health(rule)
        if others or not healthy:
            shown = "; ".join(others[:5]) or "it has no registered target"
            raise RollbackError(
                f"Target group {rule.stable.name} is not healthy ({healthy} of {healthy + len(others)} targets "
                f"healthy: {shown}), so the bot will not send traffic to it; nothing was changed and "
                f"{rule.release.name} keeps its {rule.release.weight}%. Look at why its health checks fail "
                f"(`aws elbv2 describe-target-health --target-group-arn {rule.stable.arn}`), or fix forward."
            )
        return f"{healthy}/{healthy} targets healthy"

    @staticmethod
    def _revision(g: _Group, number: int) -> Revision:
        return Revision(
            number=number,
            image=g.tags.get(IMAGE_TAG) or g.name,
            change_cause=g.tags.get(CHANGE_CAUSE_TAG, "") or f"target group {g.name}",
            name=g.name,
            label=g.name,
        )

    # -- the Strategy protocol ------------------------------------------------------------------------

    def history(self, target: Target) -> list[Revision]:
        """Stable and release; the one with (most of) the traffic last, as "live"."""
        rule = self._read(target)
        stable, release = self._revision(rule.stable, 1), self._revision(rule.release, 2)
        return [stable, release] if rule.release.weight > 0 else [release, stable]

    def plan(self, target: Target) -> Plan:
        rule = self._read(target)
        if target.to_revision == 2:
            raise RollbackError(
                f"sending more traffic to {rule.release.name} is a release, not a rollback; nothing "
                "was changed. Use your deploy tool to shift traffic to it."
            )
        stable, release = self._revision(rule.stable, 1), self._revision(rule.release, 2)
        common = dict(
            strategy=self.name,
            target=replace(target, to_revision=1),
            desired=stable,
            guard=f"{rule.stable.weight}/{rule.release.weight}",
        )
        if rule.release.weight == 0:
            return Plan(**common, current=stable, skipped=f"target group {rule.release.name} already gets no traffic")
        health = self._refuse_unhealthy(rule)
        o = rule.options
        steps = [w for w in o.steps if w < rule.release.weight] or [0]
        path = " → ".join(f"{w}%" for w in (rule.release.weight, *steps))
        how = "all at once" if steps == [0] else f"in steps, {o.step_pause or 'one analysis interval'} at each"
        changes = [
            f"move {o.where}'s traffic from target group {release.name} ({release.version}) back to {stable.name} "
            f"({stable.version}), {how}: {release.name} {path}",
            f"before each move, the bot reads {stable.name}'s target health and stops if a target is not healthy "
            f"(now: {health})",
        ]
        if steps != [0]:
            changes.append("at each step the 5xx rate and p95 are read; *Hold* or *Go to 0 now* on the card")
        return Plan(
            **common,
            current=release,
            changes=tuple(changes),
            operations=({"rule": o.rule, "stable": rule.stable.arn, "release": rule.release.arn},),
            summary=f"moving {release.name}'s traffic to {stable.name}",
        )

    def target_print(self, plan: Plan) -> dict:
        """What traffic moves to: the stable target group and the release its tags name."""
        rule = self._read(plan.target)
        return {"images": {rule.stable.name: self._revision(rule.stable, 1).image}, "template": rule.stable.arn}

    def capabilities(self) -> tuple[object, ...]:
        return (self,)  # its own Router: the rule's weights

    def weight(self, target: Target) -> int:
        return self._read(target, tags=False).release.weight

    def schedule(self, target: Target) -> tuple[tuple[int, ...], str]:
        o = self._options(target)
        return o.steps, o.step_pause

    def set_weight(self, target: Target, weight: int) -> None:
        """The release target group at ``weight`` %, the stable at the rest, in one ``ModifyRule``; a move toward
        the stable one checks its target health first (refused: nothing changes)."""
        rule = self._read(target, tags=False)
        if weight == rule.release.weight:
            return
        if weight < rule.release.weight:
            self._refuse_unhealthy(rule)
        actions = [self._moved(a, rule, weight) for a in rule.actions]
        keeps = f"{rule.release.name} keeps {rule.release.weight}% of the traffic"
        try:
            call(self._elb(rule.options), "modify_rule", rule.where, keeps, RuleArn=rule.options.rule, Actions=actions)
        except AwsError as failed:
            if failed.maybe_sent and self._read(target, keeps, tags=False).release.weight == weight:
                return
            raise

    @staticmethod
    def _moved(action: dict, rule: _Rule, weight: int) -> dict:
        if action.get("Type") != "forward":
            return action
        config = dict(action.get("ForwardConfig") or {})
        config["TargetGroups"] = [
            {"TargetGroupArn": rule.stable.arn, "Weight": 100 - weight},
            {"TargetGroupArn": rule.release.arn, "Weight": weight},
        ]
        return {k: v for k, v in {**action, "ForwardConfig": config}.items() if k != "TargetGroupArn"}

    def settle(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """ELB applies a rule's new weights at once: the rule is read back to say so."""
        rule = self._read(target, "the weights were sent; the rule could not be read back", tags=False)
        progress(
            Progress(
                f"{rule.stable.name} {rule.stable.weight}% · {rule.release.name} {rule.release.weight}%", done=True
            )
        )

    def is_applied(self, plan: Plan) -> bool:
        return self._read(plan.target, tags=False).release.weight == 0

    def apply(self, plan: Plan) -> None:
        """Straight to 0 % (the emergency path; the run moves through ``set_weight``)."""
        if plan.guard and plan.operations:
            rule = self._read(plan.target)
            if f"{rule.stable.weight}/{rule.release.weight}" != plan.guard and rule.release.weight:
                raise ConcurrentChange(
                    f"{rule.where} changed after this plan was made (now {rule.stable.name} "
                    f"{rule.stable.weight}%, {rule.release.name} {rule.release.weight}%); "
                    "nothing was changed. Review it and plan the rollback again."
                )
        self.set_weight(plan.target, 0)

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        self.settle(target, progress, timeout_seconds)

    def verify(self, plan: Plan) -> Verification:
        """What ELB shows: the weights, and the stable target group's target health."""
        consequence = "the weights were moved; their state could not be read"
        rule = self._read(plan.target, consequence, tags=False)
        healthy, others = self._health(rule, consequence)
        return Verification(
            (
                Check(
                    "weights",
                    rule.release.weight == 0,
                    f"{rule.stable.name} {rule.stable.weight}%, {rule.release.name} {rule.release.weight}%",
                ),
                Check(
                    "target health",
                    healthy > 0 and not others,
                    f"{healthy}/{healthy + len(others)} healthy" + (f": {'; '.join(others[:3])}" if others else ""),
                ),
            )
        )

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: all traffic to the stable target group now (an ALB has no replicas to scale)."""
        if replicas:
            raise RollbackError(
                "an ALB listener rule has no replicas to scale; nothing was changed. Scale the "
                "service behind the target group instead."
            )
        self.set_weight(target, 0)
