"""The env-only rollback and the restored ConfigMaps as pure rules."""

from __future__ import annotations

import copy
import dataclasses

from bot.providers.kubernetes import env_rules
from bot.providers.kubernetes.locator import k8s_target
from bot.sandbox.k8s.patch import json_patch
from bot.strategies.base import Plan, Revision, plan_from_json, plan_to_json

IMAGE = "registry.local/shop:v1.2.5"
SECRET = {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db", "key": "password"}}}


def template(image: str = IMAGE, flag: str = "true", secret: dict | None = None, config: str = "") -> dict:
    env = [{"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": flag}, {"name": "LOG_LEVEL", "value": "info"}]
    ctr: dict = {"name": "app", "image": image, "env": env + ([secret] if secret else [])}
    spec: dict = {"containers": [ctr]}
    if config:
        ctr["envFrom"] = [{"configMapRef": {"name": config}}]
        spec["volumes"] = [{"name": "cfg", "configMap": {"name": config}}]
    return {"metadata": {"labels": {"app": "shop", "pod-template-hash": "abc"}}, "spec": spec}


def deployment(tmpl: dict, annotations: dict | None = None) -> dict:
    meta: dict = {"name": "shop", "namespace": "shop", "resourceVersion": "42"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"template": tmpl}}


def test_env_changes_name_each_changed_var_with_old_and_new_value():
    assert env_rules.env_changes(template(flag="true"), template(flag="false")) == [
        'env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"'
    ]
    assert env_rules.env_changes(template(), template()) == []


def test_added_and_removed_vars_say_unset():
    live, target = template(), template()
    target["spec"]["containers"][0]["env"].append({"name": "FEATURE_FLAG_OLD_CART", "value": "on"})
    del live["spec"]["containers"][0]["env"][1]
    assert env_rules.env_changes(live, target) == [
        'env LOG_LEVEL: (unset) → "info"',
        'env FEATURE_FLAG_OLD_CART: (unset) → "on"',
    ]


def test_a_secret_value_is_never_shown_only_where_it_comes_from():
    plain = {"name": "DB_PASSWORD", "value": "hunter2"}
    other = {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db-old", "key": "pw"}}}
    lines = env_rules.env_changes(template(secret=SECRET), template(secret=other))
    assert lines == ["env DB_PASSWORD: from Secret shop-db key password → from Secret shop-db-old key pw"]
    assert env_rules.env_changes(template(secret=SECRET), template(secret=plain)) == [
        "env DB_PASSWORD: from Secret shop-db key password → (a literal value, not shown)"
    ]


def test_env_only_patch_keeps_the_image_and_everything_but_env():
    live, target = template(flag="true"), template(image="registry.local/shop:v1.2.4", flag="false")
    target["spec"]["containers"][0]["resources"] = {"limits": {"memory": "1Gi"}}
    dep = deployment(live, {"kubernetes.io/change-cause": "deploy v1.2.5"})
    ops = env_rules.env_only_patch(dep, target, "42", "env of revision 2 restored")
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "42"}
    assert not any("image" in op["path"] or "resources" in op["path"] for op in ops)
    patched = json_patch(copy.deepcopy(dep), ops)
    ctr = patched["spec"]["template"]["spec"]["containers"][0]
    assert ctr["image"] == IMAGE and "resources" not in ctr
    assert ctr["env"][0] == {"name": "FEATURE_FLAG_NEW_CHECKOUT", "value": "false"}
    assert patched["metadata"]["annotations"]["kubernetes.io/change-cause"] == "env of revision 2 restored"
    assert env_rules.env_equal(patched["spec"]["template"], target)
    assert env_rules.env_only_template(live, target)["spec"]["containers"][0] == ctr


def test_env_only_patch_removes_env_the_target_has_not_and_adds_annotations_when_absent():
    live, target = template(config="shop-config-5d1e8a"), template()
    target["spec"]["containers"][0].pop("env")
    ops = env_rules.env_only_patch(deployment(live), target, "42", "why")
    patched = json_patch(deployment(live), ops)
    ctr = patched["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in ctr and "envFrom" not in ctr and ctr["image"] == IMAGE
    assert patched["metadata"]["annotations"] == {"kubernetes.io/change-cause": "why"}


def test_env_only_plan_lists_the_vars_says_the_image_stays_and_keeps_the_revision_to_replan():
    live, target = template(flag="true"), template(image="registry.local/shop:v1.2.4", flag="false")
    rs = {"metadata": {"name": "shop-abc"}, "spec": {"template": target}}
    base = Plan(
        "kubernetes",
        k8s_target("shop", "shop", "shop", "app", env_only=True),
        current=Revision(3, IMAGE),
        desired=Revision(2, "registry.local/shop:v1.2.4", name="shop-abc"),
        guard="42",
    )
    plan = env_rules.env_only_plan(base, deployment(live, {}), rs, 4)
    assert plan.changes == (
        'env FEATURE_FLAG_NEW_CHECKOUT: "true" → "false"',
        f"image app stays {IMAGE}",
        "revision 3 -> env of revision 2 (becomes revision 4)",
    )
    assert (plan.desired.number, plan.desired.image, plan.desired.name) == (2, IMAGE, "shop-abc")
    assert plan.summary == "env only: FEATURE_FLAG_NEW_CHECKOUT reverted; image kept"
    same = env_rules.env_only_plan(base, deployment(target, {}), rs, 4)
    assert same.skipped == "the env is already as in revision 2" and not same.operations


def test_config_refs_cover_env_from_value_from_and_volumes():
    tmpl = template(secret=SECRET, config="shop-config-5d1e8a")
    tmpl["spec"]["volumes"].append({"name": "tls", "secret": {"secretName": "shop-tls", "optional": True}})
    names = {(r.kind, r.name, r.optional) for r in env_rules.config_refs(tmpl)}
    assert names == {
        ("ConfigMap", "shop-config-5d1e8a", False),
        ("Secret", "shop-db", False),
        ("Secret", "shop-tls", True),
    }


def test_a_hash_named_configmap_the_undo_restores_is_named_with_the_command_to_check_it():
    live, target = template(config="shop-config-5d1e8a"), template(config="shop-config-7f9c2b")
    pairs = env_rules.restored_refs(live, target)
    assert [(old.name, new.name) for old, new in pairs] == [("shop-config-5d1e8a", "shop-config-7f9c2b")]
    assert env_rules.ref_lines(pairs, "shopping") == [
        "ConfigMap shop-config-5d1e8a → shop-config-7f9c2b (hash-named, as kustomize's configMapGenerator "
        "makes it): the undo restores the previous config with the pods; it must still exist "
        "(`kubectl get configmap shop-config-7f9c2b -n shopping`)"
    ]
    assert env_rules.restored_refs(live, live) == []


def test_a_config_only_the_target_reads_is_named_unpaired():
    pairs = env_rules.restored_refs(template(), template(config="feature-flags"))
    assert [(old, new.name) for old, new in pairs] == [(None, "feature-flags")]
    assert env_rules.ref_lines(pairs, "shop")[0].startswith("ConfigMap feature-flags is read again")


def test_a_literal_credential_is_not_shown_either():
    live, target = template(), template()
    live["spec"]["containers"][0]["env"].append({"name": "STRIPE_API_KEY", "value": "sk_live_1"})
    target["spec"]["containers"][0]["env"].append({"name": "STRIPE_API_KEY", "value": "sk_live_0"})
    assert env_rules.env_changes(live, target) == [
        "env STRIPE_API_KEY: (a literal value, not shown) → (a literal value, not shown)"
    ]


def test_the_env_only_choice_survives_the_stored_plan_and_older_plans_still_load():
    plan = Plan("kubernetes", k8s_target("shop", "shop", "shop", env_only=True), Revision(3, IMAGE), Revision(2, IMAGE))
    stored = plan_to_json(dataclasses.replace(plan, env_only_offer=True))
    assert plan_from_json(stored).target.env_only and plan_from_json(stored).env_only_offer
    del stored["target"]["env_only"], stored["env_only_offer"]  # a plan stored before the feature
    old = plan_from_json(stored)
    assert not old.target.env_only and not old.env_only_offer
