"""The HTTP API as clients see it: discovery, Status errors, selectors, watch, subresources, cascades."""

from __future__ import annotations

import json

import requests

NS_PATH = "/apis/apps/v1/namespaces/shopping"
DEPLOY = f"{NS_PATH}/deployments/shopping-service"
VS_PATH = "/apis/networking.istio.io/v1/namespaces/shopping/virtualservices"


def test_discovery_lists_resources_with_short_names_verbs_and_subresources(sim):
    assert requests.get(f"{sim.url}/version").json()["major"] == "1"
    groups = {g["name"] for g in requests.get(f"{sim.url}/apis").json()["groups"]}
    assert {"apps", "coordination.k8s.io", "networking.istio.io"} <= groups
    apps = {r["name"]: r for r in requests.get(f"{sim.url}/apis/apps/v1").json()["resources"]}
    assert apps["deployments"]["shortNames"] == ["deploy"] and apps["replicasets"]["shortNames"] == ["rs"]
    assert "watch" in apps["deployments"]["verbs"] and apps["deployments"]["namespaced"]
    assert (
        apps["deployments/scale"]["kind"] == "Scale" and apps["deployments/scale"]["group"] == "autoscaling"
    )
    core = {r["name"]: r for r in requests.get(f"{sim.url}/api/v1").json()["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and core["configmaps"]["shortNames"] == ["cm"]
    assert not core["namespaces"]["namespaced"]
    istio = requests.get(f"{sim.url}/apis/networking.istio.io/v1").json()["resources"]
    assert istio[0]["shortNames"] == ["vs"]


def test_errors_are_status_objects(sim):
    missing = requests.get(f"{sim.url}{NS_PATH}/deployments/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
        "code": 404,
    }
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags"}, "data": {"a": "1"}}
    assert requests.post(f"{sim.url}/api/v1/namespaces/shopping/configmaps", json=cm).status_code == 201
    again = requests.post(f"{sim.url}/api/v1/namespaces/shopping/configmaps", json=cm)
    assert (again.status_code, again.json()["reason"]) == (409, "AlreadyExists")
    bad = requests.patch(
        f"{sim.url}{DEPLOY}",
        data=json.dumps([{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert (bad.status_code, bad.json()["reason"]) == (422, "Invalid")
    assert bad.json()["details"]["causes"][0]["message"].startswith(
        "testing value /metadata/resourceVersion failed"
    )


def test_writes_bump_resource_version_and_spec_changes_bump_generation(sim):
    before = requests.get(f"{sim.url}{DEPLOY}").json()
    merge = {"Content-Type": "application/merge-patch+json"}
    labelled = requests.patch(
        f"{sim.url}{DEPLOY}", data='{"metadata":{"labels":{"team":"pay"}}}', headers=merge
    ).json()
    assert int(labelled["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert labelled["metadata"]["generation"] == before["metadata"]["generation"]
    scaled = requests.patch(f"{sim.url}{DEPLOY}", data='{"spec":{"replicas":2}}', headers=merge).json()
    assert scaled["metadata"]["generation"] == before["metadata"]["generation"] + 1
    stale = dict(before, spec=dict(before["spec"], replicas=5))
    conflict = requests.put(f"{sim.url}{DEPLOY}", json=stale)
    assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"
    assert "the object has been modified" in conflict.json()["message"]


def test_label_and_field_selectors(sim):
    def names(query: str) -> set[str]:
        items = requests.get(f"{sim.url}{NS_PATH}/replicasets?{query}").json()["items"]
        return {i["metadata"]["name"] for i in items}

    everything = names("")
    assert len(everything) == 3
    one = sorted(everything)[0]
    pod_hash = one.rsplit("-", 1)[1]
    assert names(f"labelSelector=pod-template-hash%3D{pod_hash}") == {one}
    assert names(f"labelSelector=pod-template-hash%3D%3D{pod_hash}") == {one}
    assert names(f"labelSelector=pod-template-hash!%3D{pod_hash}") == everything - {one}
    assert names(f"labelSelector=pod-template-hash+in+({pod_hash},zzz)") == {one}
    assert names(f"labelSelector=pod-template-hash+notin+({pod_hash})") == everything - {one}
    assert names("labelSelector=app,!missing") == everything
    assert names("labelSelector=missing") == set()
    assert names(f"fieldSelector=metadata.name%3D{one}") == {one}


def test_watch_streams_changes_after_resource_version_until_timeout(sim):
    rv = requests.get(f"{sim.url}{NS_PATH}/deployments").json()["metadata"]["resourceVersion"]
    requests.patch(
        f"{sim.url}{DEPLOY}",
        data='{"metadata":{"labels":{"seen":"yes"}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    with requests.get(
        f"{sim.url}{NS_PATH}/deployments?watch=1&resourceVersion={rv}&timeoutSeconds=1",
        stream=True,
        timeout=10,
    ) as resp:
        events = [json.loads(line) for line in resp.iter_lines() if line]
    assert events and all(e["type"] == "MODIFIED" for e in events)
    assert events[0]["object"]["metadata"]["labels"]["seen"] == "yes"


def test_scale_and_status_subresources(sim):
    scale = requests.get(f"{sim.url}{DEPLOY}/scale").json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    assert scale["status"]["selector"] == "app=shopping-service"
    scale["spec"]["replicas"] = 1
    assert requests.put(f"{sim.url}{DEPLOY}/scale", json=scale).json()["spec"]["replicas"] == 1
    assert requests.get(f"{sim.url}{DEPLOY}").json()["spec"]["replicas"] == 1
    ignored = requests.patch(
        f"{sim.url}{DEPLOY}",
        data='{"status":{"replicas":99}}',
        headers={"Content-Type": "application/merge-patch+json"},
    ).json()
    assert ignored["status"].get("replicas") != 99  # status changes only through /status


def test_deleting_a_deployment_removes_its_replicasets_and_pods(sim):
    assert requests.delete(f"{sim.url}{DEPLOY}").json()["status"] == "Success"
    assert requests.get(f"{sim.url}{NS_PATH}/replicasets").json()["items"] == []
    assert requests.get(f"{sim.url}/api/v1/namespaces/shopping/pods").json()["items"] == []


def test_virtual_service_is_free_form_and_rejects_strategic_merge(sim):
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "shop"},
        "spec": {
            "http": [
                {
                    "route": [
                        {"destination": {"host": "stable"}, "weight": 75},
                        {"destination": {"host": "canary"}, "weight": 25},
                    ]
                }
            ]
        },
    }
    assert requests.post(f"{sim.url}{VS_PATH}", json=vs).status_code == 201
    ops = [
        {"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 10},
        {"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 90},
    ]
    patched = requests.patch(
        f"{sim.url}{VS_PATH}/shop",
        data=json.dumps(ops),
        headers={"Content-Type": "application/json-patch+json"},
    ).json()
    assert [r["weight"] for r in patched["spec"]["http"][0]["route"]] == [90, 10]
    smp = requests.patch(
        f"{sim.url}{VS_PATH}/shop",
        data="{}",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert smp.status_code == 415
