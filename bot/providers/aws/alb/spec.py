"""The ``aws-alb`` strategy's spec: an ALB listener rule's weights moved back to the previous target group."""

from __future__ import annotations

from typing import Any

from bot.providers.aws.alb.options import AlbOptions
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, Emergency, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    from bot.providers.aws.alb.strategy import AlbSwitch  # boto3 only when a service needs it

    return AlbSwitch(ctx.clients)


def _locate(service: Any) -> dict[str, str]:
    """Where the traffic is split, in ELB's words: the listener rule and the region (no namespace)."""
    o: AlbOptions = service.options
    return {"rule": o.rule, "region": o.region, "stable": o.stable}


SPEC = StrategySpec(
    name="aws-alb",
    provider="aws",
    build=_build,
    options=AlbOptions,
    # The weights move in the "step down" step (all at once: one step to 0), the canary's, through the Router.
    steps=("pre-checks", "step down", "verify"),
    extra_steps={"step down": "bot.steps.traffic:step_down"},
    emergency=Emergency(
        None,
        "",
        "All traffic to the previous target group now",
        "The listener rule of *{service}* sends all of its traffic to the previous target group at once, "
        "without steps.",
    ),
    iam=(
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:ModifyRule",
    ),
    locate=_locate,
    check_by_hand="`aws elbv2 describe-rules --rule-arns {rule} --region {region}` and "
    "`aws elbv2 describe-target-health --target-group-arn <the {stable} target group's ARN> --region {region}`",
    rank=51,
    description="ALB listener rule weights back to the previous target group, at once or in steps",
)
