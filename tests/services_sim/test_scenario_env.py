"""A scenario's releases carry env, and an image may behave as its env flags it."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.scenario import load_scenario

SCENARIO = Path(__file__).parents[1] / "scenarios" / "feature_flag.yaml"
IMAGE = "registry.local/shopping-service:v1.2.5"


def test_a_flag_in_the_env_changes_how_the_image_behaves():
    scenario = load_scenario(SCENARIO)
    on = {"name": "app", "image": IMAGE, "env": [{"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": "true"}]}
    off = {"name": "app", "image": IMAGE, "env": [{"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": "false"}]}
    assert scenario.container_behaviour(on).error_rate == 0.30
    assert scenario.container_behaviour(off).error_rate == 0.005
    assert scenario.behaviour(IMAGE).error_rate == 0.005, "no env: the image's own behaviour"


def test_a_release_env_becomes_the_container_env_with_secrets_as_references():
    rev = load_scenario(SCENARIO).service("shopping-service").revisions[0]
    assert rev.container_env() == [
        {"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": "false"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db-v1", "key": "password"}}},
    ]
