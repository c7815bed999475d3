"""The pure rules of kubectl rollout history/undo/status, on API-shaped JSON."""

from __future__ import annotations

import copy

import pytest
from kubernetes import client

from bot.providers.kubernetes import rollout_rules
from bot.strategies.base import RollbackError

IMAGE = "registry.local/shopping-service:"
DEPLOY_UID = "uid-deploy"


def template(version: str, hash_: str = "", env: dict[str, str] | None = None, **annotations) -> dict:
    labels = {"app": "shopping-service", **({"pod-template-hash": hash_} if hash_ else {})}
    container = {"name": "app", "image": IMAGE + version}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    meta = {"labels": labels, **({"annotations": annotations} if annotations else {})}
    return {"metadata": meta, "spec": {"containers": [container]}}


def deployment(version: str = "v1.2.5", revision: int = 3, **status) -> dict:
    return {
        "metadata": {
            "name": "shopping-service",
            "namespace": "shopping",
            "uid": DEPLOY_UID,
            "resourceVersion": "41",
            "generation": 3,
            "annotations": {
                rollout_rules.REVISION: str(revision),
                rollout_rules.CHANGE_CAUSE: f"deploy {version}",
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "team": "payments",
            },
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "shopping-service"}},
            "template": template(version),
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 3,
            "updatedReplicas": 3,
            "availableReplicas": 3,
            **status,
        },
    }


def replicaset(
    version: str,
    revision: int | None,
    owner: str = DEPLOY_UID,
    controller: bool = True,
    app: str = "shopping-service",
    created: str = "2026-01-01T00:00:00Z",
    **extra,
) -> dict:
    annotations = {rollout_rules.CHANGE_CAUSE: f"deploy {version}", rollout_rules.REVISION: str(revision), **extra}
    if revision is None:
        del annotations[rollout_rules.REVISION]
    return {
        "metadata": {
            "name": f"shopping-service-{version}",
            "namespace": "shopping",
            "uid": f"uid-{version}",
            "creationTimestamp": created,
            "labels": {"app": app, "pod-template-hash": f"h{version}"},
            "annotations": annotations,
            "ownerReferences": [
                {"kind": "Deployment", "name": "shopping-service", "uid": owner, "controller": controller}
            ],
        },
        "spec": {"replicas": 0, "template": template(version, hash_=f"h{version}")},
    }


HISTORY = [replicaset("v1.2.4", 2), replicaset("v1.2.5", 3), replicaset("v1.2.3", 1)]


def test_only_replicasets_matching_the_selector_and_controlled_by_the_deployment_count():
    strangers = [
        replicaset("v9", 9, owner="uid-other"),  # controlled by another deployment
        replicaset("v8", 8, controller=False),  # an owner, but not the controller
        replicaset("v7", 7, app="billing"),  # controlled, but outside the selector
    ]
    owned = rollout_rules.owned_replicasets(deployment(), HISTORY + strangers)
    assert sorted(rollout_rules.revision_of(rs) for rs in owned) == [1, 2, 3]


def test_match_expressions_are_honoured():
    dep = deployment()
    dep["spec"]["selector"] = {
        "matchExpressions": [{"key": "app", "operator": "In", "values": ["shopping-service"]}]
    }
    assert len(rollout_rules.owned_replicasets(dep, HISTORY + [replicaset("v7", 7, app="billing")])) == 3


def test_previous_is_the_second_highest_revision_whatever_the_list_order():
    assert rollout_rules.revision_of(rollout_rules.select_revision(deployment(), HISTORY, None)) == 2
    assert rollout_rules.revision_of(rollout_rules.select_revision(deployment(), HISTORY, 0)) == 2


def test_replicasets_without_a_revision_are_not_history():
    rs = rollout_rules.select_revision(deployment(), [replicaset("v1.2.4", 2), replicaset("vX", None)], 2)
    assert rollout_rules.revision_of(rs) == 2
    with pytest.raises(RollbackError, match="no previous revision"):
        rollout_rules.select_revision(deployment(), [replicaset("v1.2.4", 2), replicaset("vX", None)], None)


def test_to_revision_picks_that_revision():
    rs = rollout_rules.select_revision(deployment(), HISTORY, 1)
    assert rollout_rules.container_image(rollout_rules.rs_template(rs)) == IMAGE + "v1.2.3"


def test_unknown_revision_names_the_ones_available():
    with pytest.raises(RollbackError) as err:
        rollout_rules.select_revision(deployment(), HISTORY, 7)
    assert str(err.value) == (
        "revision 7 not found in the rollout history of shopping/shopping-service; available: 1, 2, 3"
    )


def test_a_single_revision_has_no_previous():
    with pytest.raises(RollbackError, match="shopping/shopping-service has no previous revision"):
        rollout_rules.select_revision(deployment(), [replicaset("v1.2.5", 3)], None)


def test_templates_compare_without_the_hash_label_and_nil_equals_empty():
    live = template("v1.2.5")
    live["spec"]["volumes"] = []
    assert rollout_rules.equal_ignore_hash(template("v1.2.5", hash_="abc"), live)
    assert not rollout_rules.equal_ignore_hash(template("v1.2.4", hash_="abc"), live)


def test_the_new_replicaset_is_the_oldest_with_the_live_template():
    twins = [replicaset("v1.2.5", 5, created="2026-02-01T00:00:00Z"), replicaset("v1.2.5", 3)]
    twins[0]["metadata"]["name"] = "younger"
    assert rollout_rules.find_new_replicaset(deployment(), twins)["metadata"]["name"] == "shopping-service-v1.2.5"
    assert rollout_rules.find_new_replicaset(deployment(), [replicaset("v1.2.4", 2)]) is None


def test_patch_tests_the_guard_first_then_replaces_template_and_annotations():
    rs = replicaset("v1.2.4", 2, **{"deployment.kubernetes.io/desired-replicas": "5", "owner-note": "x"})
    before = copy.deepcopy(rs)
    ops = rollout_rules.rollback_patch(deployment(), rs, "41")
    assert [(op["op"], op["path"]) for op in ops] == [
        ("test", "/metadata/resourceVersion"),
        ("replace", "/spec/template"),
        ("replace", "/metadata/annotations"),
    ]
    assert ops[0]["value"] == "41"
    assert ops[1]["value"]["metadata"]["labels"] == {"app": "shopping-service"}  # no pod-template-hash
    assert ops[1]["value"]["spec"]["containers"][0]["image"] == IMAGE + "v1.2.4"
    assert ops[2]["value"] == {
        # annotationsToSkip come from the deployment...
        rollout_rules.REVISION: "3",
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        # ...the ReplicaSet's others are copied; the deployment's other annotations are dropped (as kubectl)
        rollout_rules.CHANGE_CAUSE: "deploy v1.2.4",
        "owner-note": "x",
    }
    assert rs == before  # the RS read from the API is not modified


def test_patch_adds_annotations_when_the_deployment_has_none():
    dep = deployment()
    del dep["metadata"]["annotations"]
    assert rollout_rules.rollback_patch(dep, replicaset("v1.2.4", 2), "41")[2]["op"] == "add"


def test_changes_name_the_image_and_the_revision_it_becomes():
    lines = rollout_rules.describe_changes(template("v1.2.5"), template("v1.2.4"), 3, 2, 4)
    assert lines == [
        f"image app: {IMAGE}v1.2.5 -> {IMAGE}v1.2.4",
        "revision 3 -> 2 (becomes revision 4)",
    ]


def test_migration_warning_from_the_annotation():
    old = replicaset("v1.2.4", 2)
    live = replicaset("v1.2.5", 3, **{rollout_rules.MIGRATION_ANNOTATION: "0042_payments"})
    warnings = rollout_rules.migration_warnings(live, template("v1.2.5"), old)
    assert len(warnings) == 1 and "0042_payments" in warnings[0] and "schema" in warnings[0]


def test_migration_warning_from_a_schema_env_var():
    old = replicaset("v1.2.4", 2)
    old["spec"]["template"] = template("v1.2.4", env={"DB_SCHEMA_VERSION": "41", "LOG_LEVEL": "info"})
    live = template("v1.2.5", env={"DB_SCHEMA_VERSION": "42", "LOG_LEVEL": "debug"})
    warnings = rollout_rules.migration_warnings(None, live, old)
    assert len(warnings) == 1 and "app.DB_SCHEMA_VERSION changes 42 -> 41" in warnings[0]


def test_no_migration_warning_between_plain_releases():
    assert (
        rollout_rules.migration_warnings(replicaset("v1.2.5", 3), template("v1.2.5"), replicaset("v1.2.4", 2)) == []
    )


@pytest.mark.parametrize(
    ("status", "generation", "expected"),
    [
        (
            {"observedGeneration": 3},
            4,
            (False, "Waiting for deployment spec update to be observed...", False),
        ),
        (
            {
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ],
                "updatedReplicas": 1,
            },
            3,
            (False, 'deployment "shopping-service" exceeded its progress deadline', True),
        ),
        (
            {"updatedReplicas": 1, "replicas": 4},
            3,
            (
                False,
                'Waiting for deployment "shopping-service" rollout to finish: '
                "1 out of 3 new replicas have been updated...",
                False,
            ),
        ),
        (
            {"replicas": 5},
            3,
            (
                False,
                'Waiting for deployment "shopping-service" rollout to finish: '
                "2 old replicas are pending termination...",
                False,
            ),
        ),
        (
            {"availableReplicas": 2},
            3,
            (
                False,
                'Waiting for deployment "shopping-service" rollout to finish: '
                "2 of 3 updated replicas are available...",
                False,
            ),
        ),
        ({}, 3, (True, 'deployment "shopping-service" successfully rolled out', False)),
    ],
    ids=["not-observed", "progress-deadline", "updating", "old-pending", "unavailable", "done"],
)
def test_rollout_status_branches(status, generation, expected):
    dep = deployment(**status)
    dep["metadata"]["generation"] = generation
    assert rollout_rules.rollout_status(dep) == expected


def test_a_progressing_condition_with_another_reason_is_not_a_failure():
    cond = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    assert rollout_rules.rollout_status(deployment(conditions=[cond]))[0] is True


def test_rollout_status_accepts_client_models():
    model = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="shopping-service", generation=3),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels={"app": "x"}),
            template=client.V1PodTemplateSpec(),
        ),
        status=client.V1DeploymentStatus(
            observed_generation=3, replicas=3, updated_replicas=3, available_replicas=1
        ),
    )
    assert rollout_rules.rollout_status(model) == (
        False,
        'Waiting for deployment "shopping-service" rollout to finish: '
        "1 of 3 updated replicas are available...",
        False,
    )


def test_progress_counts_new_replicas_only():
    mid = deployment(replicas=4, updatedReplicas=2, availableReplicas=3)  # 2 old still counted available
    progress = rollout_rules.progress_of(mid)
    assert progress.message == "1/3 new replicas available, 2/3 created, 2 old pending termination"
    assert (progress.desired, progress.updated, progress.available, progress.done) == (3, 2, 1, False)
    assert rollout_rules.progress_of(deployment(availableReplicas=2)).message == "2/3 new replicas available"
    assert rollout_rules.progress_of(deployment()).done
