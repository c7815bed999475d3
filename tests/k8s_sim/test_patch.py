"""The three patch formats, with the error texts the real API server's library reports."""

from __future__ import annotations

import pytest

from bot.sandbox.k8s.patch import PatchError, json_patch, merge_patch, strategic_merge

POD_SPEC = {
    "containers": [
        {
            "name": "app",
            "image": "a:1",
            "env": [{"name": "X", "value": "1"}],
            "ports": [{"containerPort": 8080}],
        },
        {"name": "sidecar", "image": "s:1"},
    ]
}


def test_json_patch_ops_and_failed_test():
    doc = {"metadata": {"resourceVersion": "7", "labels": {"a/b": "1"}}, "spec": {"list": [1, 2]}}
    out = json_patch(
        doc,
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "remove", "path": "/metadata/labels/a~1b"},
            {"op": "copy", "from": "/spec/list", "path": "/spec/copy"},
            {"op": "move", "from": "/spec/copy", "path": "/spec/moved"},
            {"op": "replace", "path": "/spec/list/0", "value": 0},
        ],
    )
    assert out == {
        "metadata": {"resourceVersion": "7", "labels": {}},
        "spec": {"list": [0, 2, 3], "moved": [1, 2, 3]},
    }
    assert doc["spec"]["list"] == [1, 2]  # the input is not changed
    with pytest.raises(PatchError, match="testing value /metadata/resourceVersion failed: test failed"):
        json_patch(doc, [{"op": "test", "path": "/metadata/resourceVersion", "value": "6"}])
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "replace", "path": "/spec/missing/x", "value": 1}])


def test_merge_patch_replaces_lists_and_deletes_with_null():
    out = merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None, "d": 3}, "l": [9]})
    assert out == {"a": {"c": 2, "d": 3}, "l": [9]}


def test_strategic_merge_by_name_keeps_other_containers_and_merges_env_and_ports():
    patch = {
        "containers": [
            {
                "name": "app",
                "image": "a:2",
                "env": [{"name": "Y", "value": "2"}],
                "ports": [{"containerPort": 8080, "name": "http"}],
            }
        ]
    }
    out = strategic_merge(POD_SPEC, patch)
    app, sidecar = out["containers"]
    assert app["image"] == "a:2" and sidecar == {"name": "sidecar", "image": "s:1"}
    assert app["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert app["ports"] == [{"containerPort": 8080, "name": "http"}]


def test_strategic_merge_directives_delete_replace_and_element_order():
    deleted = strategic_merge(POD_SPEC, {"containers": [{"name": "sidecar", "$patch": "delete"}]})
    assert [c["name"] for c in deleted["containers"]] == ["app"]
    replaced = strategic_merge(
        POD_SPEC, {"containers": [{"name": "only", "image": "o:1"}, {"$patch": "replace"}]}
    )
    assert replaced["containers"] == [{"name": "only", "image": "o:1"}]
    ordered = strategic_merge(
        POD_SPEC,
        {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "app", "image": "a:3"}],
        },
    )
    assert [c["name"] for c in ordered["containers"]] == ["sidecar", "app"]
    assert "$setElementOrder/containers" not in ordered
