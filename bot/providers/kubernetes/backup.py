"""The pre-rollback backup as a Kubernetes Job (e.g. ``pg_dump`` to a bucket), for services with migrations.

Rolling code back past a migration can lose data, so the run refuses to roll back unless the
backup Job completed. The Job's name is derived from the incident and the run, so a resumed run finds
the Job it already created (409 AlreadyExists) and waits for that one instead of starting a second dump,
while a second rollback in the same incident takes a fresh backup and never adopts an earlier run's Job.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

from bot.config import duration_seconds
from bot.providers.kubernetes.api import Api, Call, CallFailed, Obj, explain
from bot.providers.kubernetes.locator import k8s
from bot.strategies.base import Progress, RollbackError
from bot.strategies.capabilities import BackupRequest, BackupResult
from bot.strategies.options import BackupJob

POLL_SECONDS = 2.0  # clock seconds between reads of the Job
MAX_NAME = 63  # the job-name label the Job controller adds must fit a label value
INCIDENT_LABEL, SERVICE_LABEL, RUN_LABEL = "rollback-bot/incident", "rollback-bot/service", "rollback-bot/run"
REFUSED = "the rollback is refused, as the plan said: it crosses database migrations and needs a backup first"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def job_name(service_name: str, incident_id: str, run_id: int) -> str:
    """``rollback-backup-<service>-<short id>-r<run>``: one Job per run, at most 63 characters (the service's
    name is shortened first, so the incident and the run always show)."""
    short = (re.sub(r"^inc-", "", _slug(incident_id))[-12:].strip("-") or "inc") + f"-r{run_id}"
    room = MAX_NAME - len("rollback-backup--") - len(short)
    return f"rollback-backup-{_slug(service_name)[:room].strip('-')}-{short}"


def job_manifest(service_name: str, incident_id: str, run_id: int, spec: BackupJob, namespace: str) -> Obj:
    """The Job to create: run once (no retries, so a half-written dump is never silently redone), bounded by
    ``activeDeadlineSeconds``, labelled with the service, the incident and the run it was made for."""
    labels = {
        "app.kubernetes.io/managed-by": "rollback-bot",
        "app.kubernetes.io/component": "backup",
        SERVICE_LABEL: _slug(service_name)[:MAX_NAME],
        INCIDENT_LABEL: re.sub(r"[^A-Za-z0-9._-]+", "-", incident_id).strip("-._")[:MAX_NAME],
        RUN_LABEL: str(run_id),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(service_name, incident_id, run_id),
            "namespace": spec.namespace or namespace,
            "labels": labels,
            "annotations": {INCIDENT_LABEL: incident_id},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": duration_seconds(spec.deadline),
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "backup", "image": spec.image, "command": list(spec.command)}],
                },
            },
        },
    }


def _condition(job: Obj, kind: str) -> Obj | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def _state(job: Obj) -> str:
    st = job.get("status") or {}
    if _condition(job, "Complete"):
        return "completed"
    if _condition(job, "Failed"):
        return "failed"
    return f"running ({st.get('active', 0)} pod active, {st.get('failed', 0)} failed)"


def _exit(api: Api, namespace: str, name: str) -> str:
    """How the Job's pod ended (best effort: a failed read only leaves it out)."""
    try:
        pods = api.read(Call("list", "pods", namespace), label_selector=f"job-name={name}").get("items") or []
    except CallFailed:
        return ""
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            ended = (cs.get("state") or {}).get("terminated")
            if ended and ended.get("exitCode"):
                message = (ended.get("message") or "").strip()[:200]
                return f"its pod exited with code {ended['exitCode']} ({ended.get('reason', 'Error')})" + (
                    f": {message}" if message else ""
                )
    return ""


class _Clock:
    def __init__(self, clock: Any) -> None:
        self.clock = clock

    def now(self) -> float:
        now = getattr(self.clock, "now", None)
        return now() if now else self.clock.time()

    def real(self, seconds: float) -> float:
        real = getattr(self.clock, "real_seconds", None)
        return real(seconds) if real else seconds


def _create(api: Api, manifest: Obj, progress: Callable[[Progress], None]) -> Obj:
    """Create the Job, or adopt the one a previous attempt of this run created (never another run's)."""
    meta = manifest["metadata"]
    ns, name = meta["namespace"], meta["name"]
    try:
        job = api.write(Call("create", "jobs", ns), manifest)
        progress(Progress(f"backup job {name} created in {ns}"))
        return job
    except CallFailed as failed:
        if failed.status != 409 and not failed.uncertain:
            raise explain(failed, f"no backup was started, so {REFUSED}") from failed
        lost = failed
    try:
        job = api.read(Call("get", "jobs", ns, name))
    except CallFailed as failed:
        raise explain(
            lost if failed.status == 404 else failed,
            f"the bot cannot tell whether the backup job {ns}/{name} was created, so {REFUSED}",
            f"Check with `kubectl get job/{name} -n {ns}`, then try again.",
        ) from failed
    labels = job["metadata"].get("labels") or {}
    if any(labels.get(key) != meta["labels"][key] for key in (INCIDENT_LABEL, RUN_LABEL)):
        raise RollbackError(
            f"a job {ns}/{name} already exists and was not made for this rollback; {REFUSED}. "
            f"Delete it (`kubectl delete job/{name} -n {ns}`) or rename the service's backup job."
        )
    if lost.status == 409:
        progress(Progress(f"backup job {name} already exists (a resumed run): following it"))
    return job


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _finished(api: Api, job: Obj, hint: str) -> BackupResult:
    meta = job["metadata"]
    ns, name = meta["namespace"], meta["name"]
    where = f"backup job {ns}/{name}"
    if done := _condition(job, "Complete"):
        st = job.get("status") or {}
        took = ""
        if st.get("startTime") and st.get("completionTime"):
            took = f" in {(_time(st['completionTime']) - _time(st['startTime'])).total_seconds():.0f}s"
        return BackupResult(name, ns, True, f"{where} completed{took} ({done.get('reason', 'Complete')})", hint)
    failed = _condition(job, "Failed") or {}
    again = f"Read why with `{hint}`; fix it, then roll back again: the next rollback runs a fresh backup Job."
    if failed.get("reason") == "DeadlineExceeded":
        limit = (job.get("spec") or {}).get("activeDeadlineSeconds")
        what = f"ran longer than its deadline ({limit}s) and was stopped by Kubernetes"
    else:
        how = _exit(api, ns, name) or failed.get("message") or "its pod failed"
        what = f"failed: {how}" + (f" [{failed['reason']}]" if failed.get("reason") else "")
    return BackupResult(name, ns, False, f"{where} {what}; {REFUSED}. {again}", hint)


def run_backup(
    api: Api, manifest: Obj, clock: Any, deadline_seconds: float, progress: Callable[[Progress], None]
) -> BackupResult:
    """Create the backup Job (or adopt it on a resumed run) and read it until it completes, fails, or
    ``deadline_seconds`` of ``clock`` (``time`` or a ``SimClock``) pass.

    The Job's own outcome is returned, in words; a call that fails for good raises a RollbackError that
    says what happened and that the rollback is refused. A Job still running at the deadline is left to
    its ``activeDeadlineSeconds``.
    """
    meta = manifest["metadata"]
    ns, name = meta["namespace"], meta["name"]
    hint = f"kubectl logs job/{name} -n {ns}"
    c = _Clock(clock)
    start, last = c.now(), ""
    job = _create(api, manifest, progress)
    deadline = start + deadline_seconds
    while True:
        state = _state(job)
        if state != last:
            progress(Progress(f"backup job {name}: {state}", done=state in ("completed", "failed")))
            last = state
        if state in ("completed", "failed"):
            return _finished(api, job, hint)
        remaining = deadline - c.now()
        if remaining <= 0:
            detail = (
                f"backup job {ns}/{name} did not finish within {deadline_seconds:.0f}s; {REFUSED}. "
                f"It may still finish: follow it with `kubectl get job/{name} -n {ns}` and `{hint}`."
            )
            return BackupResult(name, ns, False, detail, hint)
        clock.sleep(min(POLL_SECONDS, remaining))
        try:
            job = api.read(Call("get", "jobs", ns, name), until=time.monotonic() + c.real(remaining))
        except CallFailed as failed:
            if failed.status == 404:
                detail = f"backup job {ns}/{name} was deleted before it finished; {REFUSED}. Check who deleted it: "
                return BackupResult(name, ns, False, f"{detail}`kubectl get events -n {ns}`.", hint)
            if not failed.transient or deadline - c.now() <= 0:
                raise explain(
                    failed,
                    f"the backup's outcome is unknown, so {REFUSED}",
                    f"Check it with `kubectl get job/{name} -n {ns}` and `{hint}`.",
                ) from failed


class JobBackup:
    """The ``Backup`` capability of the Kubernetes strategies: the service's ``backup_job`` as a Job in the
    workload's namespace (or the one it names), one per run."""

    def __init__(self, api: Api, clock: Any = time) -> None:
        self.api, self.clock = api, clock

    def describe(self, request: BackupRequest) -> str:
        job = request.declared
        return (
            f"first, run the backup Job ({job.image}: {' '.join(job.command)}) in "
            f"{job.namespace or k8s(request.target).namespace} and wait up to {job.deadline}; if it fails or runs "
            "late, the rollback is refused and nothing else changes"
        )

    def _manifest(self, request: BackupRequest) -> Obj:
        namespace = k8s(request.target).namespace
        return job_manifest(request.service, request.incident, request.run_id, request.declared, namespace)

    def title(self, request: BackupRequest) -> str:
        return f"backup job {self._manifest(request)['metadata']['name']}"

    def take(self, request: BackupRequest, progress: Callable[[Progress], None]) -> BackupResult:
        deadline = duration_seconds(request.declared.deadline)
        return run_backup(self.api, self._manifest(request), self.clock, deadline, progress)
