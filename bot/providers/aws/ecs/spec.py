"""The ``aws-ecs`` strategy's spec: an ECS service back to an earlier revision of its task definition family."""

from __future__ import annotations

from typing import Any

from bot.providers.aws.ecs.options import EcsOptions
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, Emergency, StrategySpec


def _build(ctx: BuildContext) -> Strategy:
    # Imported when first needed: boto3 costs start-up time a report or check-config does not need.
    from bot.providers.aws.ecs.strategy import EcsRollback

    return EcsRollback(ctx.clients)


def _locate(service: Any) -> dict[str, str]:
    """Where an ECS service runs, in ECS's words: its cluster, its name and its region (no namespace)."""
    o: EcsOptions = service.options
    return {"cluster": o.cluster_name, "service": o.service_name, "region": o.region}


SPEC = StrategySpec(
    name="aws-ecs",
    provider="aws",
    build=_build,
    options=EcsOptions,
    # No GitOps controller to suspend and no backup Job on ECS: its steps are the rollback itself.
    steps=("pre-checks", "rollback", "wait for rollout", "verify"),
    emergency=Emergency(
        "Choose another revision…",
        "roll back to another task definition revision (*Choose another revision…*)",
        "Scale to zero",
        "The ECS service *{service}* is set to desired count 0: every task stops, and the service is DOWN until "
        "someone sets its desired count again.",
    ),
    iam=(
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:UpdateService",
    ),
    locate=_locate,
    check_by_hand="`aws ecs describe-services --cluster {cluster} --services {service} --region {region}`",
    rank=50,
    description="ECS service back to an earlier task definition revision",
)
