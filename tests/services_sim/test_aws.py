"""moto in server mode, reached over real HTTP with boto3 as the bot's AWS code would."""

from __future__ import annotations

import pytest
import requests

from bot.sandbox.aws import MotoServer


@pytest.fixture
def moto():
    with MotoServer() as server:
        yield server


def test_s3_bucket_put_and_get(moto):
    assert moto.url.startswith("http://127.0.0.1:")
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="postmortems")
    s3.put_object(Bucket="postmortems", Key="INC-2026-001.md", Body=b"# Postmortem\n")
    body = s3.get_object(Bucket="postmortems", Key="INC-2026-001.md")["Body"].read()
    assert body == b"# Postmortem\n"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["postmortems"]


def test_ecs_task_definition_revisions(moto):
    ecs = moto.client("ecs")

    def register(image: str) -> str:
        containers = [{"name": "app", "image": image, "memory": 512}]
        td = ecs.register_task_definition(family="shopping-service", containerDefinitions=containers)
        return td["taskDefinition"]["taskDefinitionArn"]

    first = register("registry.local/shopping-service:v1.2.4")
    second = register("registry.local/shopping-service:v1.2.5")
    assert first.endswith("task-definition/shopping-service:1")
    assert second.endswith("task-definition/shopping-service:2")
    arns = ecs.list_task_definitions(familyPrefix="shopping-service")["taskDefinitionArns"]
    assert arns == [first, second]
    previous = ecs.describe_task_definition(taskDefinition="shopping-service:1")["taskDefinition"]
    assert previous["containerDefinitions"][0]["image"] == "registry.local/shopping-service:v1.2.4"


def test_a_new_server_starts_empty_and_a_stopped_one_stops_answering():
    server = MotoServer().start()
    try:
        assert server.client("s3").list_buckets()["Buckets"] == []
        url = server.url
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
