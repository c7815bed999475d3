"""AWS calls whose failures are told in words a person can act on: which call on which resource, what it means
for the rollback, and the IAM permission it needs.

Every AWS strategy calls through ``call`` (or ``explained``). A ``ClientError`` becomes an ``AwsError`` (a
``RollbackError``): access denied names the IAM action to grant, throttling that outlasted botocore's standard
retries says so, a missing cluster, service, target group, distribution or hosted zone names it and points at
the services catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from bot.strategies.base import RollbackError

POLICY_DOC = "docs/aws-iam-policy.json"
DENIED = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthFailure",
    "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
    "SignatureDoesNotMatch", "InvalidSignatureException",
}
THROTTLED = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "RequestThrottled",
    "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "PriorRequestNotComplete",
    "BandwidthLimitExceeded", "LimitExceededException", "EC2ThrottledException",
}
MISSING = {  # the error code -> what is missing, in words
    "ClusterNotFoundException": "cluster",
    "ServiceNotFoundException": "service",
    "ServiceNotActiveException": "service (it is not ACTIVE)",
    "TargetGroupNotFound": "target group",
    "TargetGroupNotFoundException": "target group",
    "ListenerNotFound": "listener",
    "LoadBalancerNotFound": "load balancer",
    "RuleNotFound": "listener rule",
    "NoSuchDistribution": "CloudFront distribution",
    "NoSuchInvalidation": "CloudFront invalidation",
    "NoSuchHostedZone": "hosted zone",
    "NoSuchHealthCheck": "health check",
    "NoSuchBucket": "bucket",
    "NoSuchKey": "object",
    "DBInstanceNotFound": "DB instance",
    "DBInstanceNotFoundFault": "DB instance",
    "DBSnapshotNotFound": "DB snapshot",
    "ResourceNotFoundException": "resource",
}
# IAM's prefix where it is not the client's signing name, and actions not named like their operation
IAM_PREFIX = {"monitoring": "cloudwatch"}
IAM_ACTION = {"s3:ListObjectsV2": "s3:ListBucket", "s3:HeadObject": "s3:GetObject", "s3:HeadBucket": "s3:ListBucket"}
UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


class AwsError(RollbackError):
    """A failed AWS call, in words. ``kind``: denied, throttled, missing, unreachable, credentials or refused;
    ``maybe_sent``: the request may have reached AWS (a write may have happened: read back before saying)."""

    def __init__(self, message: str, kind: str, code: str = "", maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.kind, self.code, self.maybe_sent = kind, code, maybe_sent


def iam_action(client: Any, operation: str) -> str:
    """``ecs:UpdateService`` for ``update_service`` on an ECS client: what the bot's role must be allowed."""
    model = client.meta.service_model
    name = client.meta.method_to_api_mapping.get(operation, operation)
    prefix = model.signing_name or model.endpoint_prefix
    action = f"{IAM_PREFIX.get(prefix, prefix)}:{name}"
    return IAM_ACTION.get(action, action)


def call(client: Any, operation: str, resource: str, consequence: str, **params: Any) -> Any:
    """``client.<operation>(**params)``; a failure raised as an ``AwsError`` naming ``resource`` (``ECS service
    shop/web``), the IAM action and ``consequence`` (what it means: "nothing was changed")."""
    with explained(iam_action(client, operation), resource, consequence):
        return getattr(client, operation)(**params)


@contextmanager
def explained(action: str, resource: str, consequence: str) -> Iterator[None]:
    """Turn the botocore failures of the calls inside into ``AwsError``s (see ``words``)."""
    try:
        yield
    except ClientError as exc:
        raise words(exc, action, resource, consequence) from exc
    except NoCredentialsError as exc:
        raise AwsError(
            f"The bot has no AWS credentials for {action} on {resource}; {consequence}. Give it an IAM role "
            "(IRSA on EKS, an instance or task role) or AWS_* variables, with the permissions in "
            f"{POLICY_DOC}.",
            "credentials",
        ) from exc
    except NoRegionError as exc:
        message = f"No AWS region for {action} on {resource}; {consequence}. Set the service's options.region."
        raise AwsError(message, "refused") from exc
    except UNREACHABLE as exc:
        raise AwsError(
            f"Could not reach AWS for {action} on {resource} ({exc}); {consequence}. Check the bot's network "
            "path to AWS (and AWS_ENDPOINT_URL, when it is set).",
            "unreachable",
            maybe_sent=not isinstance(exc, EndpointConnectionError | ConnectTimeoutError),
        ) from exc
    except BotoCoreError as exc:
        raise AwsError(f"{action} on {resource} failed ({exc}); {consequence}.", "refused") from exc


def words(exc: ClientError, action: str, resource: str, consequence: str) -> AwsError:
    """The sentence for one ClientError: what AWS said, what it means here, and what to do."""
    error = exc.response.get("Error") or {}
    code, said = str(error.get("Code") or "Unknown"), _clip(str(error.get("Message") or ""))
    status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
    retries = (exc.response.get("ResponseMetadata") or {}).get("RetryAttempts") or 0
    aws_said = f" (AWS: {code}: {said})" if said else f" ({code})"
    if code in DENIED or status == 403:
        return AwsError(
            f"AWS refused {action} on {resource}: the bot's IAM role is not allowed to{aws_said}. {consequence}. "
            f"Grant `{action}` to the bot's role ({POLICY_DOC} lists every action the bot needs).",
            "denied",
            code,
        )
    if code in THROTTLED or status == 429:
        return AwsError(
            f"AWS kept throttling {action} on {resource} after {retries} retries{aws_said}; {consequence}. "
            f"Wait a minute and try again; if it goes on, look for what else calls {action} in this account.",
            "throttled",
            code,
        )
    missing = MISSING.get(code) or ("task definition" if "task definition" in said.lower() else "")
    if missing:
        return AwsError(
            f"{resource}: the {missing} was not found in AWS{aws_said}; {consequence}. Check the service's "
            f"options in the services catalog (names, region) and that the bot's credentials are for that "
            f"account (the call: `{action}`).",
            "missing",
            code,
        )
    return AwsError(
        f"AWS answered {action} on {resource} with an error{aws_said}; {consequence}.",
        "refused",
        code,
        maybe_sent=status >= 500,
    )


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
