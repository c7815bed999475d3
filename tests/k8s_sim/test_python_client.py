"""The official kubernetes python client against the simulator: list, read, patch, conflicts, watch."""

from __future__ import annotations

import pytest
from kubernetes import client, watch

NS, NAME = "shopping", "shopping-service"


@pytest.fixture
def apps(sim) -> client.AppsV1Api:
    config = client.Configuration()
    config.host = sim.url
    with client.ApiClient(config) as api:
        yield client.AppsV1Api(api)


def test_list_and_read(apps):
    rss = apps.list_namespaced_replica_set(NS, label_selector="app=shopping-service").items
    revisions = sorted(int(rs.metadata.annotations["deployment.kubernetes.io/revision"]) for rs in rss)
    assert revisions == [1, 2, 3]
    d = apps.read_namespaced_deployment(NAME, NS)
    assert d.spec.template.spec.containers[0].image.endswith(":v1.2.5")
    assert {c.type: c.reason for c in d.status.conditions} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    assert apps.read_namespaced_deployment_scale(NAME, NS).spec.replicas == 3


def test_list_body_is_a_json_patch_guarded_by_resource_version(apps):
    rv = apps.read_namespaced_deployment(NAME, NS).metadata.resource_version
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/labels/guarded", "value": "yes"},
    ]
    assert apps.patch_namespaced_deployment(NAME, NS, ops).metadata.labels["guarded"] == "yes"
    with pytest.raises(client.ApiException) as stale:
        apps.patch_namespaced_deployment(NAME, NS, ops)  # the resourceVersion moved on: the test op fails
    assert stale.value.status == 422 and "test failed" in stale.value.body


def test_dict_body_is_a_strategic_merge_patch(apps):
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/s:v9"}]}}}}
    patched = apps.patch_namespaced_deployment(NAME, NS, smp)
    assert patched.spec.template.spec.containers[0].image == "registry.local/s:v9"
    assert (
        patched.spec.template.spec.containers[0].ports[0].container_port == 8080
    )  # merged by name, not replaced


def test_replace_with_stale_resource_version_is_a_conflict(apps):
    d = apps.read_namespaced_deployment(NAME, NS)
    apps.patch_namespaced_deployment(NAME, NS, {"metadata": {"labels": {"touched": "yes"}}})
    d.spec.replicas = 5
    with pytest.raises(client.ApiException) as err:
        apps.replace_namespaced_deployment(NAME, NS, d)
    assert err.value.status == 409 and '"reason": "Conflict"' in err.value.body
    assert apps.read_namespaced_deployment(NAME, NS).spec.replicas == 3


def test_watch_sees_a_rollout(apps):
    start = apps.list_namespaced_deployment(NS).metadata.resource_version
    apps.patch_namespaced_deployment(
        NAME,
        NS,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "app", "image": "registry.local/shopping-service:v1.2.4"}]
                    }
                }
            }
        },
    )
    seen = []
    for event in watch.Watch().stream(
        apps.list_namespaced_deployment, NS, resource_version=start, timeout_seconds=10
    ):
        status = event["object"].status
        seen.append((event["type"], status.updated_replicas, status.available_replicas))
        if (
            event["object"].metadata.generation == status.observed_generation
            and status.updated_replicas == 3
            and status.replicas == 3
            and status.available_replicas == 3
        ):
            break
    assert seen[0][0] == "MODIFIED" and seen[-1][1:] == (3, 3)
