"""The pure StatefulSet rules, against kubectl's history.go, rollback.go and statefulSetStatusViewer."""

from __future__ import annotations

import pytest

from bot.providers.kubernetes import statefulset_rules as rules
from bot.strategies.base import RollbackError

UID = "u-1"


def sts(image: str = "db:2", partition: int | None = 0, **status) -> dict:
    strategy = {"type": "RollingUpdate"}
    if partition is not None:
        strategy["rollingUpdate"] = {"partition": partition}
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": UID, "generation": 2, "resourceVersion": "7"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "updateStrategy": strategy,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
        "status": {"observedGeneration": 2, **status},
    }


def cr(number: int, image: str, owner: str = UID, labels: dict | None = None) -> dict:
    template = {
        "$patch": "replace",
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": image}]},
    }
    return {
        "metadata": {
            "name": f"web-{number}",
            "labels": {"app": "web", "controller-revision-hash": str(number)} if labels is None else labels,
            "ownerReferences": [{"uid": owner, "controller": True}],
        },
        "revision": number,
        "data": {"spec": {"template": template}},
    }


def test_owned_revisions_need_the_selector_and_a_controller_reference():
    mine, other, unlabelled = cr(1, "db:1"), cr(2, "db:2", owner="u-2"), cr(3, "db:3", labels={})
    assert rules.owned_revisions(sts(), [mine, other, unlabelled]) == [mine]


def test_previous_is_the_second_highest_revision_and_to_revision_is_exact():
    owned = [cr(1, "db:1"), cr(5, "db:5"), cr(3, "db:3")]
    assert rules.select_revision(sts(), owned, None)["revision"] == 3
    assert rules.select_revision(sts(), owned, 1)["revision"] == 1
    with pytest.raises(RollbackError, match="revision 2 not found .*available: 1, 3, 5"):
        rules.select_revision(sts(), owned, 2)
    with pytest.raises(RollbackError, match="no previous revision"):
        rules.select_revision(sts(), owned[:1], None)


def test_template_match_ignores_the_patch_directive_and_empty_fields():
    assert rules.matches(cr(2, "db:2"), sts("db:2"))
    assert not rules.matches(cr(1, "db:1"), sts("db:2"))
    assert "$patch" not in rules.revision_template(cr(1, "db:1"))


def test_live_revision_is_the_update_revision_when_it_matches_the_template():
    owned = [cr(1, "db:2"), cr(2, "db:2")]
    assert rules.live_revision(sts(updateRevision="web-1"), owned)["revision"] == 1
    assert rules.live_revision(sts(updateRevision="gone"), owned)["revision"] == 2


def test_patch_tests_the_resource_version_then_replaces_the_template():
    ops = rules.rollback_patch(sts(), cr(1, "db:1"), "7")
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}
    assert ops[1]["op"] == "replace" and ops[1]["value"]["spec"]["containers"][0]["image"] == "db:1"


@pytest.mark.parametrize(
    ("obj", "done", "message"),
    [
        (sts(observedGeneration=1), False, "Waiting for statefulset spec update to be observed..."),
        (sts(readyReplicas=1, updatedReplicas=1), False, "Waiting for 2 pods to be ready..."),
        (
            sts(readyReplicas=3, updatedReplicas=2),
            False,
            "Waiting for partitioned roll out to finish: 2 out of 3 new pods have been updated...",
        ),
        (
            sts(readyReplicas=3, updatedReplicas=3),
            True,
            "partitioned roll out complete: 3 new pods have been updated...",
        ),
        (sts(partition=2, readyReplicas=3, updatedReplicas=1), True, "partitioned roll out complete: 1 new pods"),
        (
            sts(partition=None, readyReplicas=3, updatedReplicas=3, updateRevision="b", currentRevision="a"),
            False,
            "waiting for statefulset rolling update to complete 3 pods at revision b...",
        ),
        (
            sts(partition=None, readyReplicas=3, currentReplicas=3, updateRevision="b", currentRevision="b"),
            True,
            "statefulset rolling update complete 3 pods at revision b...",
        ),
    ],
)
def test_rollout_status_follows_kubectl(obj, done, message):
    got_done, got = rules.rollout_status(obj)
    assert got_done is done and got.startswith(message)


def test_ondelete_is_refused_by_status_and_plan():
    obj = sts()
    obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert "OnDelete update strategy" in rules.refusal(obj)
    with pytest.raises(RollbackError, match="Switch it to RollingUpdate"):
        rules.rollout_status(obj)


def test_progress_counts_pods_updated_and_ready():
    p = rules.progress_of(sts(readyReplicas=2, updatedReplicas=2))
    assert (p.message, p.desired, p.updated, p.available, p.done) == ("2/3 pods updated, 2/3 ready", 3, 2, 2, False)
    assert rules.progress_of(sts(partition=1, readyReplicas=3, updatedReplicas=2)).message == (
        "rolled out: 2/2 pods updated, 3/3 ready"
    )


def test_warnings_spell_out_the_order_the_partition_and_a_stuck_pod():
    crashing = {
        "metadata": {"name": "web-2"},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
        },
    }
    warnings = rules.order_warnings(sts(partition=1), [crashing])
    assert "highest ordinal (web-2 first, web-1 last)" in warnings[0]
    assert "partition 1: pod web-0 stays" in warnings[1]
    assert "pod web-2 is not ready (CrashLoopBackOff, 4 restarts)" in warnings[2]
