"""The least-privilege IAM policy of the bot's AWS strategies, made from their specs (``StrategySpec.iam``).

``python -m bot.providers.aws.iam`` prints it; docs/aws-iam-policy.json is its output, and a test keeps the
file equal to what the specs say and the specs equal to the calls the strategies make against moto.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from bot.providers.aws import cloudfront
from bot.strategies import registry
from bot.strategies.registry import StrategySpec


def _sid(name: str) -> str:
    return "RollbackBot" + "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


# What the bot calls beside the strategies, for any service that declares it: name -> IAM actions
BESIDE = {"cdn": cloudfront.IAM}  # cdn: the CloudFront invalidation after a switch


def policy(specs: Iterable[StrategySpec] | None = None) -> dict:
    """One statement per AWS strategy that lists IAM actions, then one per thing called beside them (``cdn``)
    (``Resource: *``: which clusters and services a deployment uses is the catalog's business; narrow it with your
    ARNs)."""
    chosen = registry.specs().values() if specs is None else specs
    statements = [
        {"Sid": _sid(s.name), "Effect": "Allow", "Action": sorted(set(s.iam)), "Resource": "*"}
        for s in sorted(chosen, key=lambda s: s.name)
        if s.iam
    ]
    statements += [{"Sid": _sid(name), "Effect": "Allow", "Action": sorted(set(actions)), "Resource": "*"}
                   for name, actions in sorted(BESIDE.items())]
    return {"Version": "2012-10-17", "Statement": statements}


def render(specs: Iterable[StrategySpec] | None = None) -> str:
    return json.dumps(policy(specs), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
