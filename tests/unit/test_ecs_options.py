"""The catalog's ``options:`` of an ``aws-ecs`` service, read by the spec's options class: names or ARNs, the
region, file:line errors; and the pure ECS rules (previous revision, the plan's diff, steady state)."""

from __future__ import annotations

import textwrap

import pytest

from bot.config import ConfigError, load_catalog
from bot.providers.aws.ecs import rules
from bot.providers.aws.ecs.options import EcsOptions

ARN = "arn:aws:ecs:eu-west-1:123456789012"


def catalog(tmp_path, options: str):
    path = tmp_path / "services.yaml"
    body = "services:\n  orders:\n    strategy: aws-ecs\n    rollback_allowed: [U0ONCALL1]\n    options:\n"
    path.write_text(body + textwrap.indent(textwrap.dedent(options).strip() + "\n", "      "))
    return path


def errors(tmp_path, options: str) -> list[str]:
    path = catalog(tmp_path, options)
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    return [e.split(": ", 1)[1] for e in caught.value.errors]


def test_an_ecs_service_needs_no_namespace_and_reads_names_or_arns(tmp_path):
    path = catalog(tmp_path, f"cluster: {ARN}:cluster/shop\nservice: {ARN}:service/shop/orders\nregion: eu-west-1")
    o = load_catalog(path).services["orders"].options
    assert isinstance(o, EcsOptions) and (o.cluster_name, o.service_name, o.region) == ("shop", "orders", "eu-west-1")
    assert o.where == "ECS service shop/orders (eu-west-1)"
    assert load_catalog(path).services["orders"].namespace == ""


def test_missing_and_malformed_fields_are_named_with_their_line(tmp_path):
    assert errors(tmp_path, "cluster: shop") == [
        "services.orders.options.service: missing (the ECS service (a name or its ARN))",
        "services.orders.options.region: missing (the AWS region of the cluster, such as eu-west-1)",
    ]
    found = errors(tmp_path, "cluster: shop cluster\nservice: orders\nregion: Europe\ncolour: blue")
    assert found[0].startswith("services.orders.options.cluster: expected an ECS cluster name")
    assert found[1] == "services.orders.options.region: expected an AWS region such as eu-west-1, got 'Europe'"
    assert found[2].startswith("services.orders.options.colour: unknown key")
    path = catalog(tmp_path, "cluster: shop\nservice: orders\nregion: Europe")
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    assert caught.value.errors[0].startswith(f"{path}:8: ")  # the region's own line


def test_an_arn_in_another_region_or_cluster_is_refused(tmp_path):
    assert errors(tmp_path, f"cluster: {ARN}:cluster/shop\nservice: {ARN}:service/other/orders\nregion: us-east-1") == [
        "services.orders.options.cluster: the ARN is in region eu-west-1, not us-east-1 (region)",
        "services.orders.options.service: the ARN is in region eu-west-1, not us-east-1 (region)",
        "services.orders.options.service: the ARN names cluster other, not shop",
    ]


def test_the_previous_revision_is_the_newest_older_one():
    assert rules.previous(5, [1, 2, 4, 5, 6]) == 4
    assert rules.previous(1, [1, 2]) is None
    assert rules.family_revision("arn:aws:ecs:eu-west-1:123456789012:task-definition/orders:12") == ("orders", 12)


def test_the_diff_names_images_and_env_but_never_a_secret_or_credential_value():
    live = {"containerDefinitions": [{"name": "app", "image": "r/orders:v2", "environment": [
        {"name": "A", "value": "1"}, {"name": "GONE", "value": "x"}, {"name": "API_TOKEN", "value": "t-2"}],
        "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-v2"}]}]}
    desired = {"containerDefinitions": [{"name": "app", "image": "r/orders:v1", "environment": [
        {"name": "A", "value": "2"}, {"name": "NEW", "value": "y"}, {"name": "API_TOKEN", "value": "t-1"}],
        "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-v1"}]}]}
    lines = rules.changes(live, desired, "orders:2", "orders:1")
    assert lines == [
        "container app: image r/orders:v2 → r/orders:v1",
        "container app: env A: \"1\" → \"2\"",
        "container app: env API_TOKEN: (a literal value, not shown) → (a literal value, not shown)",
        "container app: env DB: from arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-v2 → "
        "from arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-v1",
        "container app: env GONE removed (was \"x\")",
        "container app: env NEW added: \"y\"",
    ]


TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/orders:"


def deployment(rev: int, status: str, running: int, desired: int = 2, rollout: str = "IN_PROGRESS", **more):
    return {"taskDefinition": f"{TD}{rev}", "status": status, "runningCount": running, "desiredCount": desired,
            "rolloutState": rollout, **more}


def test_steady_state_is_the_primary_alone_with_every_task_running():
    moving = {"deployments": [deployment(2, "PRIMARY", 1), deployment(3, "ACTIVE", 2, rollout="COMPLETED")]}
    state = rules.deployment_state(moving, f"{TD}2")
    assert not state.done and not state.failure
    assert state.progress.message == "1/2 tasks running on revision 2, 2 old still running"
    steady = rules.deployment_state({"deployments": [deployment(2, "PRIMARY", 2, rollout="COMPLETED")]}, f"{TD}2")
    assert steady.done and steady.progress.done


def test_the_circuit_breaker_and_a_replacing_deployment_are_failures():
    tripped = {"deployments": [deployment(2, "PRIMARY", 0, rollout="FAILED", failedTasks=4,
                                          rolloutStateReason="tasks failed to start"),
                               deployment(3, "ACTIVE", 2, rollout="COMPLETED")]}
    failure = rules.deployment_state(tripped, f"{TD}2").failure
    assert failure.startswith("the ECS deployment circuit breaker stopped the deployment of revision 2")
    assert "4 tasks failed" in failure and "the service stays on what still runs" in failure
    rolled = {"deployments": [deployment(3, "PRIMARY", 0), deployment(2, "ACTIVE", 0, rollout="FAILED")]}
    assert "ECS rolled the service back to revision 3" in rules.deployment_state(rolled, f"{TD}2").failure
    other = {"deployments": [deployment(4, "PRIMARY", 0), deployment(2, "ACTIVE", 2)]}
    assert rules.deployment_state(other, f"{TD}2").failure == (
        "another deployment (revision 4) replaced the rollback to revision 2")
