"""AWS failures in words (``bot.providers.aws.errors``) and what AWS names look like (``names``): pure."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from bot.providers.aws import names
from bot.providers.aws.errors import AwsError, explained, iam_action, words

RESOURCE = "ECS service shop/web (us-east-1)"


def client_error(code: str, message: str = "", status: int = 400, retries: int = 0, op: str = "UpdateService"):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries},
    }
    return ClientError(response, op)


def test_access_denied_names_the_resource_and_the_iam_action_to_grant():
    said = words(client_error("AccessDeniedException", "not authorized", 400), "ecs:UpdateService", RESOURCE,
                 "nothing was changed")
    assert said.kind == "denied"
    assert "AWS refused ecs:UpdateService on ECS service shop/web (us-east-1)" in str(said)
    assert "nothing was changed" in str(said)
    assert "Grant `ecs:UpdateService` to the bot's role (docs/aws-iam-policy.json" in str(said)


def test_throttling_that_outlasted_the_retries_says_how_many_and_what_to_do():
    said = words(client_error("ThrottlingException", "Rate exceeded", retries=2), "ecs:DescribeServices",
                 RESOURCE, "nothing was changed")
    assert said.kind == "throttled"
    assert "kept throttling ecs:DescribeServices on ECS service shop/web (us-east-1) after 2 retries" in str(said)
    assert "Wait a minute and try again" in str(said)


@pytest.mark.parametrize(
    ("code", "message", "missing"),
    [
        ("ClusterNotFoundException", "Cluster not found.", "cluster"),
        ("ServiceNotFoundException", "Service not found.", "service"),
        ("ClientException", "Unable to describe task definition.", "task definition"),
        ("TargetGroupNotFound", "", "target group"),
        ("NoSuchDistribution", "", "CloudFront distribution"),
        ("NoSuchHostedZone", "", "hosted zone"),
    ],
)
def test_a_missing_resource_is_named_and_points_at_the_catalog(code, message, missing):
    said = words(client_error(code, message), "ecs:DescribeServices", RESOURCE, "nothing was changed")
    assert said.kind == "missing"
    assert f"{RESOURCE}: the {missing} was not found in AWS" in str(said)
    assert "services catalog" in str(said) and "`ecs:DescribeServices`" in str(said)


def test_a_server_error_may_have_been_applied_and_a_client_error_was_not():
    assert words(client_error("ServerException", "boom", 500), "ecs:UpdateService", RESOURCE, "x").maybe_sent
    refused = words(client_error("InvalidParameterException", "bad", 400), "ecs:UpdateService", RESOURCE, "x")
    assert not refused.maybe_sent


def test_no_credentials_and_no_network_are_told_apart():
    with pytest.raises(AwsError) as caught, explained("ecs:DescribeServices", RESOURCE, "nothing was changed"):
        raise NoCredentialsError()
    assert caught.value.kind == "credentials" and "IRSA" in str(caught.value)
    with pytest.raises(AwsError) as caught, explained("ecs:UpdateService", RESOURCE, "nothing was changed"):
        raise EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com")
    assert caught.value.kind == "unreachable" and not caught.value.maybe_sent
    with pytest.raises(AwsError) as caught, explained("ecs:UpdateService", RESOURCE, "it may have been applied"):
        raise ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com")
    assert caught.value.maybe_sent  # the request went out: a write must be read back


def test_the_iam_action_of_an_operation_uses_iam_s_prefix():
    def client(name: str):
        return boto3.client(name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")

    assert iam_action(client("ecs"), "update_service") == "ecs:UpdateService"
    assert iam_action(client("elbv2"), "describe_target_health") == "elasticloadbalancing:DescribeTargetHealth"
    assert iam_action(client("cloudwatch"), "get_metric_data") == "cloudwatch:GetMetricData"
    assert iam_action(client("s3"), "list_objects_v2") == "s3:ListBucket"


def test_aws_names_regions_and_arns():
    assert names.is_region("eu-west-1") and names.is_region("us-gov-west-1")
    assert not names.is_region("eu-west") and not names.is_region("EU-WEST-1") and not names.is_region(3)
    arn = names.ecs_arn("service", "arn:aws:ecs:eu-west-1:123456789012:service/shop/web")
    assert arn and (arn["region"], arn["account"], arn["cluster"], arn["name"]) == ("eu-west-1", "123456789012",
                                                                                     "shop", "web")
    assert names.ecs_arn("cluster", "arn:aws:ecs:eu-west-1:123456789012:cluster/shop")["name"] == "shop"
    assert names.ecs_arn("cluster", "arn:aws:ecs:eu-west-1:123456789012:service/shop/web") is None
    assert names.ecs_arn("cluster", "arn:aws:ecs:eu-west-1:1234:cluster/shop") is None  # an account has 12 digits
    assert names.short_name("arn:aws:ecs:eu-west-1:123456789012:service/shop/web") == "web"
