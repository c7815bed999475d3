"""CloudFront: the invalidation a service with ``cdn:`` gets after every successful switch (the ``AfterVerify``
capability, whatever the strategy), waited for until it is Completed, with the catalog's deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.config import duration_seconds
from bot.providers.aws.errors import call
from bot.strategies.base import Plan, Progress, RollbackError
from bot.strategies.options import Cdn

IAM = ("cloudfront:CreateInvalidation", "cloudfront:GetInvalidation")  # docs/aws-iam-policy.json's "RollbackBotCdn"
REGION = "us-east-1"  # CloudFront is global; its API answers in us-east-1
POLL_SECONDS = 2.0
CONSEQUENCE = "the rollback itself is done; CloudFront may serve pages of the bad release until their TTL ends"


class CloudFrontInvalidation:
    def __init__(self, clients: Any, cdn: Cdn, clock: Any = time) -> None:
        self.clients, self.cdn, self.clock = clients, cdn, clock
        self.title = f"CloudFront invalidation of {cdn.distribution_id} ({', '.join(cdn.paths)})"

    @property
    def where(self) -> str:
        return f"CloudFront distribution {self.cdn.distribution_id}"

    def after_verify(self, plan: Plan, reference: str, progress: Callable[[Progress], None]) -> str:
        """One ``CreateInvalidation`` (``reference`` is its CallerReference: sent again, CloudFront answers the
        same invalidation), then ``GetInvalidation`` until Completed or the deadline passes."""
        cf = self.clients.aws(self.cdn.profile or None, REGION).client("cloudfront")
        paths = list(self.cdn.paths)
        batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference}
        made = call(
            cf,
            "create_invalidation",
            self.where,
            CONSEQUENCE,
            DistributionId=self.cdn.distribution_id,
            InvalidationBatch=batch,
        )["Invalidation"]
        ident, status = made["Id"], made.get("Status", "")
        limit = duration_seconds(self.cdn.deadline)
        deadline, shown = time.monotonic() + limit, ""
        while True:
            if status != shown:
                progress(
                    Progress(
                        f"CloudFront invalidation {ident} of {', '.join(paths)}: {status}", done=status == "Completed"
                    )
                )
                shown = status
            if status == "Completed":
                return f"CloudFront invalidation {ident} of {', '.join(paths)} on {self.cdn.distribution_id}: Completed"
            if time.monotonic() > deadline:
                raise RollbackError(
                    f"CloudFront invalidation {ident} of {', '.join(paths)} on {self.cdn.distribution_id} is still "
                    f"{status} after the deadline of {self.cdn.deadline}; the rollback itself is done, but the "
                    "edges may serve cached pages of the bad release until it completes. Check it with `aws "
                    f"cloudfront get-invalidation --distribution-id {self.cdn.distribution_id} --id {ident}`."
                )
            self.clock.sleep(min(POLL_SECONDS, max(0.1, deadline - time.monotonic())))
            status = call(
                cf,
                "get_invalidation",
                f"invalidation {ident} of {self.where}",
                CONSEQUENCE,
                DistributionId=self.cdn.distribution_id,
                Id=ident,
            )["Invalidation"].get("Status", "")
