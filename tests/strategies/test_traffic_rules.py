"""The pure traffic rules: JSON Patches that move a selector, a subset or weights, guarded against concurrent edits."""

from __future__ import annotations

import pytest

from bot.providers.kubernetes import traffic_patches

VS = {
    "metadata": {"resourceVersion": "42"},
    "spec": {
        "http": [
            {
                "route": [
                    {"destination": {"host": "checkout-stable.checkout.svc.cluster.local"}, "weight": 20},
                    {"destination": {"host": "checkout-canary"}, "weight": 80},
                ]
            }
        ]
    },
}
SUBSETS = {
    "metadata": {"resourceVersion": "7"},
    "spec": {"http": [{"route": [{"destination": {"host": "s", "subset": "green"}}]}]},
}
COLOURS = ("blue", "green")


def test_selector_patch_is_guarded_and_escapes_the_key():
    ops = traffic_patches.selector_patch({"metadata": {"resourceVersion": "9"}}, "app.kubernetes.io/version", "blue")
    assert ops == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "9"},
        {"op": "replace", "path": "/spec/selector/app.kubernetes.io~1version", "value": "blue"},
    ]


def test_weights_are_read_by_short_host_name():
    assert traffic_patches.weights_of(VS, "checkout-stable", "checkout-canary") == {
        "checkout-stable": 20,
        "checkout-canary": 80,
    }
    with pytest.raises(ValueError, match="no HTTP route"):
        traffic_patches.weights_of(VS, "checkout-stable", "checkout-blue")


def test_weights_patch_moves_both_destinations():
    ops = traffic_patches.weights_patch(VS, "checkout-stable", "checkout-canary", 25)
    assert ops == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
        {"op": "add", "path": "/spec/http/0/route/0/weight", "value": 75},
        {"op": "add", "path": "/spec/http/0/route/1/weight", "value": 25},
    ]


def test_subset_switch_tests_the_subset_it_replaces():
    assert traffic_patches.subset_of(SUBSETS, COLOURS) == "green"
    assert traffic_patches.subset_patch(SUBSETS, "blue", COLOURS) == [
        {"op": "test", "path": "/spec/http/0/route/0/destination/subset", "value": "green"},
        {"op": "replace", "path": "/spec/http/0/route/0/destination/subset", "value": "blue"},
    ]
    assert traffic_patches.subset_patch(SUBSETS, "green", COLOURS) == []


@pytest.mark.parametrize(
    ("total", "weight", "split"), [(5, 75, (1, 4)), (5, 50, (3, 2)), (5, 10, (4, 1)), (5, 0, (5, 0)), (4, 25, (3, 1))]
)
def test_replica_split_keeps_a_stable_pod_and_a_canary_pod_above_zero(total, weight, split):
    assert traffic_patches.replica_split(total, weight) == split


def test_only_colour_routes_switch_and_the_catch_all_rule_says_where_traffic_goes():
    debug = {"match": [{"headers": {"x-debug": {"exact": "1"}}}], "route": [{"destination": {"subset": "debug"}}]}
    canary = {"match": [{"headers": {"x-beta": {"exact": "1"}}}], "route": [{"destination": {"subset": "blue"}}]}
    main = {"route": [{"destination": {"subset": "green"}}], "mirror": {"subset": "shadow"}}
    vs = {"spec": {"http": [debug, canary, main]}}
    assert traffic_patches.subset_of(vs, COLOURS) == "green"  # the catch-all, not the first rule
    assert traffic_patches.routed_colours(vs, COLOURS) == {"blue", "green"}
    assert traffic_patches.subset_patch(vs, "blue", COLOURS) == [
        {"op": "test", "path": "/spec/http/2/route/0/destination/subset", "value": "green"},
        {"op": "replace", "path": "/spec/http/2/route/0/destination/subset", "value": "blue"},
    ]
    split = {"spec": {"http": [{"route": [{"destination": {"subset": "blue"}, "weight": 100},
                                          {"destination": {"subset": "green"}, "weight": 0}]}]}}
    assert traffic_patches.routed_colours(split, COLOURS) == {"blue"}, "a route of weight 0 sends nothing"
    assert traffic_patches.subset_of(None, COLOURS) is None
