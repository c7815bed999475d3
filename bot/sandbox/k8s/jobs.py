"""The Job controller and the kubelet's view of a Job's pods: run once, exit 0 or 1, as the scenario says.

Enough of ``batch/v1`` for a pre-rollback backup: one pod at a time (``restartPolicy: Never``),
a replacement after each failure until ``backoffLimit``, ``activeDeadlineSeconds`` counted from
``status.startTime``, and the conditions kubectl and clients read (1.31+: SuccessCriteriaMet then
Complete; FailureTarget then Failed).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from . import objects as o
from .resources import BY_PLURAL

if TYPE_CHECKING:
    from .cluster import Cluster

JOB, POD = BY_PLURAL["jobs"], BY_PLURAL["pods"]
UID_LABEL, NAME_LABEL = "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name"
BACKOFF_BASE, BACKOFF_MAX = 10.0, 360.0  # seconds before a failed pod is replaced (doubling), as the controller
SUCCESS, FAILURE = ("SuccessCriteriaMet", "Complete"), ("FailureTarget", "Failed")
FAILED_MESSAGES = {
    "BackoffLimitExceeded": "Job has reached the specified backoff limit",
    "DeadlineExceeded": "Job was active longer than specified deadline",
}


def default_job(job: dict) -> None:
    """The API server's defaults for a non-indexed Job."""
    spec = job.setdefault("spec", {})
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    o.default_pod_spec(template.setdefault("spec", {}))


def is_job_pod(pod: dict) -> bool:
    return any(r.get("kind") == "Job" and r.get("controller") for r in pod["metadata"].get("ownerReferences") or [])


def _terminated(pod: dict) -> dict | None:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if "terminated" in (cs.get("state") or {}):
            return cs["state"]["terminated"]
    return None


def simulate_pod(c: Cluster, pod: dict) -> None:
    """Running until the image's ``job_seconds`` pass, then Succeeded (exit 0) or Failed (exit 1)."""
    if pod["status"].get("phase") in ("Succeeded", "Failed"):
        return
    born = o.parse_time(pod["metadata"]["creationTimestamp"])
    containers = pod["spec"].get("containers") or []
    behaviours = [c.scenario.behaviour(ctr.get("image", "")) for ctr in containers]
    ends = born + max((b.job_seconds for b in behaviours), default=0.0)
    done = c.now() >= ends
    failed = done and any(b.job_fails for b in behaviours)
    statuses = []
    for ctr, b in zip(containers, behaviours, strict=True):
        state: dict = {"running": {"startedAt": o.iso(born)}}
        if done:
            code = 1 if b.job_fails else 0
            state = {
                "terminated": {
                    "exitCode": code,
                    "reason": "Error" if code else "Completed",
                    "startedAt": o.iso(born),
                    "finishedAt": o.iso(born + b.job_seconds),
                }
            }
        statuses.append(
            {"name": ctr["name"], "image": ctr.get("image", ""), "ready": not done, "started": not done}
            | {"restartCount": 0, "state": state}
        )
    phase = ("Failed" if failed else "Succeeded") if done else "Running"
    ready = "False" if done else "True"
    status = {
        "phase": phase,
        "conditions": [
            {"type": t, "status": s, "lastTransitionTime": o.iso(born)}
            | ({"reason": "PodCompleted"} if s == "False" else {})
            for t, s in (
                ("Initialized", "True"),
                ("Ready", ready),
                ("ContainersReady", ready),
                ("PodScheduled", "True"),
            )
        ],
        "podIP": "10.244.0.9",
        "startTime": o.iso(born),
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }
    if status != pod.get("status"):
        pod["status"] = status
        c.write(POD, pod)


def _new_pod(c: Cluster, job: dict) -> None:
    template = copy.deepcopy(job["spec"]["template"])
    name = job["metadata"]["name"]
    pod = {
        "metadata": {
            "name": f"{name}-{''.join(c.rand.choice(o.SAFE_ALPHANUMS) for _ in range(5))}",
            "generateName": f"{name}-",
            "namespace": job["metadata"]["namespace"],
            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
            "ownerReferences": [o.owner_ref(job)],
        },
        "spec": dict(template.get("spec") or {}, nodeName="sandbox-node"),
        "status": {"phase": "Pending"},
    }
    simulate_pod(c, c.create(POD, pod))


def _finish(job: dict, now: float, reason: str | None) -> None:
    """Add the terminal conditions: success when ``reason`` is None, else failure for ``reason``."""
    when = o.iso(now)
    if reason is None:
        why, message, kinds = "CompletionsReached", "Reached expected number of succeeded pods", SUCCESS
        job["status"]["completionTime"] = when
    else:
        why, message, kinds = reason, FAILED_MESSAGES[reason], FAILURE
    job["status"].setdefault("conditions", []).extend(
        {"type": kind, "status": "True", "lastProbeTime": when, "lastTransitionTime": when}
        | {"reason": why, "message": message}
        for kind in kinds
    )


def sync_job(c: Cluster, job: dict) -> None:
    """Reconcile one Job: its selector and pod labels, its pod, and its status."""
    new = copy.deepcopy(job)
    meta, spec = new["metadata"], new["spec"]
    ids = {UID_LABEL: meta["uid"], NAME_LABEL: meta["name"], "controller-uid": meta["uid"], "job-name": meta["name"]}
    spec.setdefault("selector", {"matchLabels": {UID_LABEL: meta["uid"]}})
    spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(ids)
    status = new.setdefault("status", {})
    if any(cd["type"] in ("Complete", "Failed") for cd in status.get("conditions") or []):
        return
    now = c.now()
    status.setdefault("startTime", o.iso(now))
    ns = meta["namespace"]
    pods = [p for p in c.store.list(POD, ns) if o.owned_by(p, job)]
    phases = [p["status"].get("phase") for p in pods]
    succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
    active = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")]
    deadline = spec.get("activeDeadlineSeconds")
    reason = None
    if deadline is not None and now - o.parse_time(status["startTime"]) >= deadline:
        reason = "DeadlineExceeded"
    elif failed > spec.get("backoffLimit", 6):
        reason = "BackoffLimitExceeded"
    if reason:
        for p in active:
            c.remove(POD, ns, p["metadata"]["name"])
        active = []
    elif not succeeded and not active:
        last = max((o.parse_time((_terminated(p) or {}).get("finishedAt")) for p in pods), default=0.0)
        if not failed or now >= last + min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_MAX):
            _new_pod(c, new)
            active = [None]
    status.update(active=len(active), ready=len(active), terminating=0, uncountedTerminatedPods={})
    for key, count in (("succeeded", succeeded), ("failed", failed)):
        status.pop(key, None)
        if count:
            status[key] = count
    if not status["active"]:
        status.pop("active")
    if reason or succeeded:
        _finish(new, now, reason)
    if new != job:
        c.write(JOB, new)
