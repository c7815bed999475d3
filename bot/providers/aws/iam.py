"""The least-privilege IAM policy of the bot's AWS strategies, made from their specs (``StrategySpec.iam``).

``python -m bot.providers.aws.iam`` prints it; docs/aws-iam-policy.json is its output, and a test keeps the
file equal to what the specs say and the specs equal to the calls the strategies make against moto.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from bot.providers.aws import archive, cloudfront, cloudwatch, dr
from bot.strategies import registry
from bot.strategies.registry import StrategySpec

# What the bot calls outside a strategy, each feature's own ``IAM`` (its module lists the actions it calls)
FEATURES: dict[str, tuple[str, ...]] = {
    "cloudwatch-signals": cloudwatch.IAM,
    "s3-archive": archive.IAM,
    "dr-failover": dr.IAM,
    "cdn": cloudfront.IAM,  # the CloudFront invalidation after a switch, for a service that declares cdn:
}


def _sid(name: str) -> str:
    return "RollbackBot" + "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def policy(specs: Iterable[StrategySpec] | None = None) -> dict:
    """One statement per AWS strategy that lists IAM actions, then one per feature (``Resource: *``: which
    clusters, services, metrics and buckets a deployment uses is the catalog's business; narrow it with your
    ARNs)."""
    chosen = registry.specs().values() if specs is None else specs
    named = [(s.name, s.iam) for s in sorted(chosen, key=lambda s: s.name) if s.iam] + sorted(FEATURES.items())
    statements = [
        {"Sid": _sid(name), "Effect": "Allow", "Action": sorted(set(actions)), "Resource": "*"}
        for name, actions in named
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def render(specs: Iterable[StrategySpec] | None = None) -> str:
    return json.dumps(policy(specs), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
