"""``Clients.aws``: one boto3 session per account and region, its clients built once, the default credential
chain and the standard AWS_ENDPOINT_URL (moto behind the sandbox's front), standard retries; and a failure
the front answers as AWS would becomes a message that names the resource and the IAM action."""

from __future__ import annotations

import pytest

from bot.providers.aws.errors import AwsError, call
from bot.providers.clients import Clients
from bot.sandbox.aws import AwsSandbox


@pytest.fixture
def aws(monkeypatch):
    with AwsSandbox() as sandbox:
        for key, value in sandbox.env().items():  # what the bot's process environment holds in the sandbox
            monkeypatch.setenv(key, value)
        yield sandbox


@pytest.fixture
def ecs(aws):
    clients = Clients()
    yield clients.aws(None, "us-east-1").client("ecs")
    clients.close()


def test_one_session_per_account_and_region_and_one_client_each(aws):
    clients = Clients()
    try:
        east = clients.aws(None, "us-east-1")
        assert clients.aws(None, "us-east-1") is east
        assert clients.aws(None, "eu-west-1") is not east
        ecs = east.client("ecs")
        assert east.client("ecs") is ecs
        assert ecs.meta.config.retries["mode"] == "standard"
        assert ecs.meta.endpoint_url == aws.url  # AWS_ENDPOINT_URL, read by botocore itself
        ecs.create_cluster(clusterName="shop")
        assert [c["clusterName"] for c in ecs.describe_clusters(clusters=["shop"])["clusters"]] == ["shop"]
        assert aws.front.calls == ["ecs:CreateCluster", "ecs:DescribeClusters"]
    finally:
        clients.close()


def test_access_denied_from_aws_names_the_permission(aws, ecs):
    aws.front.fail("ecs:DescribeServices", "AccessDeniedException")
    with pytest.raises(AwsError) as caught:
        call(ecs, "describe_services", "ECS service shop/web", "nothing was changed", cluster="shop", services=["web"])
    assert caught.value.kind == "denied"
    text = str(caught.value)
    assert "AWS refused ecs:DescribeServices on ECS service shop/web" in text
    assert "not authorized to perform: ecs:DescribeServices" in text  # what AWS said, kept
    assert "Grant `ecs:DescribeServices`" in text


def test_throttling_is_retried_in_standard_mode_then_told(aws, ecs):
    aws.front.fail("ecs:ListTaskDefinitions", "ThrottlingException")
    with pytest.raises(AwsError) as caught:
        call(ecs, "list_task_definitions", "task definition family web", "nothing was changed", familyPrefix="web")
    assert caught.value.kind == "throttled"
    assert aws.front.calls.count("ecs:ListTaskDefinitions") == 3  # standard mode: 3 attempts in all
    assert "after 2 retries" in str(caught.value)


def test_a_missing_cluster_is_named(ecs):
    with pytest.raises(AwsError) as caught:
        call(ecs, "describe_services", "ECS service nope/web", "nothing was changed", cluster="nope", services=["web"])
    assert caught.value.kind == "missing"
    assert "ECS service nope/web: the cluster was not found in AWS" in str(caught.value)
