"""The Kubernetes API calls of the workload strategies: each bounded in time, reads retried, failures in words.

Reads (get, list) are tried again after a short backoff while the API server fails (5xx),
throttles (429) or does not answer in time; writes are sent once: what a write whose answer
was lost did is found out by reading, never by sending it again. urllib3's own silent retries
are switched off (they would multiply every timeout), except for connecting, where nothing was sent.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client, watch
from kubernetes.client import rest
from kubernetes.client.exceptions import ApiException

from bot import telemetry
from bot.strategies.base import RollbackError

Obj = dict[str, Any]
FIELD_MANAGER = "rollback-bot"
REQUEST_TIMEOUT = 10.0  # real seconds for one request, connecting included
READ_ATTEMPTS = 3
BACKOFF = (0.25, 0.75)  # real seconds before the 2nd and the 3rd attempt of a read
MAX_RETRY_AFTER = 2.0  # a 429's Retry-After is honoured up to this many seconds
TRANSIENT = frozenset({429, 500, 502, 503, 504})
RETRIES = urllib3.Retry(
    total=None, connect=2, read=False, status=0, other=0, redirect=0, respect_retry_after_header=False
)
APPS = ("deployments", "replicasets", "statefulsets", "controllerrevisions")
GROUPS = {**{r: "apps" for r in (*APPS, "deployments/scale", "statefulsets/scale")}, "jobs": "batch"}
# Custom resources (served from CRDs): resource -> (group, version); called through CustomObjectsApi.
CUSTOM = {
    "virtualservices": ("networking.istio.io", "v1"),
    "applications": ("argoproj.io", "v1alpha1"),
    "kustomizations": ("kustomize.toolkit.fluxcd.io", "v1"),
    "helmreleases": ("helm.toolkit.fluxcd.io", "v2"),
}
METHODS = {  # (verb, resource) -> (API class, method of the python client)
    ("get", "deployments"): ("apps", "read_namespaced_deployment"),
    ("watch", "deployments"): ("apps", "list_namespaced_deployment"),
    ("patch", "deployments"): ("apps", "patch_namespaced_deployment"),
    ("patch", "deployments/scale"): ("apps", "patch_namespaced_deployment_scale"),
    ("delete", "deployments"): ("apps", "delete_namespaced_deployment"),
    ("get", "replicasets"): ("apps", "read_namespaced_replica_set"),
    ("list", "replicasets"): ("apps", "list_namespaced_replica_set"),
    ("get", "statefulsets"): ("apps", "read_namespaced_stateful_set"),
    ("watch", "statefulsets"): ("apps", "list_namespaced_stateful_set"),
    ("patch", "statefulsets"): ("apps", "patch_namespaced_stateful_set"),
    ("patch", "statefulsets/scale"): ("apps", "patch_namespaced_stateful_set_scale"),
    ("get", "controllerrevisions"): ("apps", "read_namespaced_controller_revision"),
    ("list", "controllerrevisions"): ("apps", "list_namespaced_controller_revision"),
    ("list", "pods"): ("core", "list_namespaced_pod"),
    ("list", "services"): ("core", "list_namespaced_service"),
    ("get", "services"): ("core", "read_namespaced_service"),
    ("get", "configmaps"): ("core", "read_namespaced_config_map"),
    ("patch", "configmaps"): ("core", "patch_namespaced_config_map"),
    ("watch", "configmaps"): ("core", "list_namespaced_config_map"),
    ("list", "configmaps"): ("core", "list_namespaced_config_map"),
    ("get", "secrets"): ("core", "read_namespaced_secret"),
    ("patch", "secrets"): ("core", "patch_namespaced_secret"),
    ("watch", "secrets"): ("core", "list_namespaced_secret"),
    ("list", "secrets"): ("core", "list_namespaced_secret"),
    ("patch", "services"): ("core", "patch_namespaced_service"),
    ("get", "endpoints"): ("core", "read_namespaced_endpoints"),
    ("create", "jobs"): ("batch", "create_namespaced_job"),
    ("get", "jobs"): ("batch", "read_namespaced_job"),
    **{("get", r): ("custom", "get_namespaced_custom_object") for r in CUSTOM},
    **{("patch", r): ("custom", "patch_namespaced_custom_object") for r in CUSTOM},
}


@dataclass(frozen=True)
class Call:
    """One API request as RBAC names it: verb, resource (``deployments/scale``), namespace, name."""

    verb: str
    resource: str
    namespace: str
    name: str = ""

    @property
    def group(self) -> str:
        return CUSTOM[self.resource][0] if self.resource in CUSTOM else GROUPS.get(self.resource, "")

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.name else f"in namespace {self.namespace}"
        return f"{self.verb} {self.resource} {where}"


class CallFailed(Exception):
    """A call that failed for good (after its retries). ``status`` is None when no HTTP answer came."""

    def __init__(
        self,
        call: Call,
        problem: str,
        status: int | None = None,
        sent: bool = True,
        timed_out: bool = False,
        retry_after: float = 0.0,
    ) -> None:
        super().__init__(f"{call}: {problem}")
        self.call, self.problem, self.status = call, problem, status
        self.sent = sent  # the request may have reached the API server
        self.timed_out = timed_out
        self.retry_after = retry_after
        self.tries = 1

    @property
    def transient(self) -> bool:
        """Worth another try: the server failed, throttled, or did not answer."""
        return self.status in TRANSIENT or self.status is None

    @property
    def kind(self) -> str:
        """The failure in the bot's metrics: ``http_<status>``, ``timeout``, ``unreachable``, ``dropped``."""
        if self.status is not None:
            return f"http_{self.status}"
        return "timeout" if self.timed_out else "dropped" if self.sent else "unreachable"

    @property
    def uncertain(self) -> bool:
        """For a write: the server may have carried it out, or may still."""
        return self.sent and (self.timed_out or self.status in (None, 504))


class Api:
    """The python client's calls on raw JSON (``_preload_content=False``), each within ``timeout`` real seconds."""

    def __init__(self, api_client: client.ApiClient, timeout: float = REQUEST_TIMEOUT) -> None:
        api_client.configuration.retries = RETRIES
        api_client.rest_client = rest.RESTClientObject(api_client.configuration)
        self.host = api_client.configuration.host
        self.timeout = timeout
        self._apis = {
            "apps": client.AppsV1Api(api_client),
            "core": client.CoreV1Api(api_client),
            "batch": client.BatchV1Api(api_client),
            "custom": client.CustomObjectsApi(api_client),
        }

    def read(self, call: Call, until: float | None = None, **kwargs: Any) -> Obj:
        """GET or LIST, tried again while the failure is transient. ``until``: a ``time.monotonic()``
        past which no attempt runs (each attempt's timeout is cut to fit)."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            timeout = self.timeout if until is None else max(0.1, min(self.timeout, until - time.monotonic()))
            try:
                return self._send(call, timeout, **kwargs)
            except CallFailed as failed:
                failed.tries = attempt
                pause = max(BACKOFF[min(attempt, len(BACKOFF)) - 1], min(failed.retry_after, MAX_RETRY_AFTER))
                late = until is not None and time.monotonic() + pause >= until
                if not failed.transient or attempt == READ_ATTEMPTS or late:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")

    def write(self, call: Call, body: Any = None) -> Obj:
        """PATCH or create (POST), or DELETE without a body, sent once. A custom resource's patch is a merge
        patch for a dict body, a JSON Patch for a list. A patch or create names the bot as its field manager,
        so ``managedFields`` (and the config tracker's "changed by") say who made the change."""
        named = {"field_manager": FIELD_MANAGER} if call.verb in ("patch", "create") else {}
        return self._send(call, self.timeout, **named, **({} if body is None else {"body": body}))

    def watch(self, call: Call, seconds: int, timeout: float, **kwargs: Any) -> Iterator[Obj]:
        """Watch events as JSON; the server ends the watch after ``seconds``, the client gives up after
        ``timeout`` real seconds without a byte (a hung watch)."""
        stream = watch.Watch().stream(
            self._method(call),
            call.namespace,
            timeout_seconds=seconds,
            _request_timeout=timeout,
            deserialize=False,
            **kwargs,
        )
        try:
            yield from stream
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._counted(call, exc, timeout) from exc

    def _method(self, call: Call):
        api, method = METHODS[(call.verb, call.resource)]
        return getattr(self._apis[api], method)

    def _send(self, call: Call, timeout: float, **kwargs: Any) -> Obj:
        args: tuple[str, ...] = (call.name, call.namespace) if call.name else (call.namespace,)
        if call.resource in CUSTOM:  # CustomObjectsApi: (group, version, namespace, plural[, name])
            args = (*CUSTOM[call.resource], call.namespace, call.resource, *((call.name,) if call.name else ()))
            if isinstance(kwargs.get("body"), list):  # the client would send a JSON Patch as a merge patch
                kwargs["_content_type"] = "application/json-patch+json"
        try:
            response = self._method(call)(*args, _preload_content=False, _request_timeout=timeout, **kwargs)
            return json.loads(response.data)
        except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise self._counted(call, exc, timeout) from exc

    def _counted(self, call: Call, exc: Exception, timeout: float) -> CallFailed:
        failed = self._failed(call, exc, timeout)
        telemetry.call_failed("kubernetes", failed.kind)
        return failed

    def _failed(self, call: Call, exc: Exception, timeout: float) -> CallFailed:
        """What went wrong, in words (never a Python repr)."""
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        api = f"the Kubernetes API at {self.host}"
        if isinstance(exc, ApiException) and exc.status:
            headers = exc.headers or {}
            try:
                retry_after = float(headers.get("Retry-After") or 0)
            except ValueError:
                retry_after = 0.0
            return CallFailed(call, _status_text(exc), exc.status, retry_after=retry_after)
        if isinstance(exc, ApiException):  # status 0: the client could not even send it (TLS)
            return CallFailed(call, f"{api} could not be reached over TLS; check the cluster's CA", sent=False)
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            cause = re.search(r"\[Errno -?\d+\] ([^)\]]+)", str(exc))
            reason = cause.group(1).strip() if cause else "connection failed"
            return CallFailed(call, f"{api} cannot be reached ({reason})", sent=False)
        if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
            return CallFailed(call, f"{api} did not accept a connection within {timeout:g}s", sent=False)
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
            return CallFailed(call, f"{api} did not answer within {round(timeout, 1):g}s", timed_out=True)
        if isinstance(exc, ValueError):
            return CallFailed(call, f"{api} answered with something that is not JSON")
        return CallFailed(call, f"{api} dropped the connection before answering")


def _status_text(exc: ApiException) -> str:
    """``403 Forbidden: <the Status message>`` from the API server's answer."""
    try:
        body = json.loads(exc.body)
        reason, message = body.get("reason") or exc.reason, body.get("message") or ""
    except (TypeError, ValueError, AttributeError):
        reason, message = exc.reason, ""
    text = f"{exc.status} {reason}" + (f": {message}" if message else "")
    return text if len(text) <= 300 else text[:297] + "..."


def explain(failed: CallFailed, consequence: str, next_step: str = "") -> RollbackError:
    """``what happened; consequence. What to do.`` for a call that failed for good.

    ``next_step`` replaces the usual advice for the failure (not for 401 and 403: credentials
    and permissions are fixed the same way whatever the bot was doing).
    """
    call, status = failed.call, failed.status
    if status == 401:
        return RollbackError(
            f"the Kubernetes API rejected the bot's credentials (401 Unauthorized) when it tried to {call}; "
            f"{consequence}. Renew the bot's token or kubeconfig (KUBECONFIG), then try again."
        )
    if status == 403:
        return RollbackError(_forbidden(failed, consequence))
    if status == 429:
        what = f"the Kubernetes API is overloaded and throttled the bot ({failed.problem})"
        advice = "Try again in a minute."
    elif status is not None and status >= 500:
        what = f"the Kubernetes API server is failing ({failed.problem})"
        advice = "Try again in a minute; if it keeps failing, check the control plane (`kubectl get --raw /readyz`)."
    elif status is None:
        what = failed.problem
        advice = "Check that the API server is up and reachable from the bot (`kubectl get --raw /readyz`)."
    else:
        what, advice = f"the Kubernetes API refused ({failed.problem})", ""
    tries = f" ({failed.tries} tries)" if failed.tries > 1 else ""
    text = f"{what} when the bot tried to {call}{tries}; {consequence}."
    step = next_step or advice
    return RollbackError(f"{text} {step}" if step else text)


def _forbidden(failed: CallFailed, consequence: str) -> str:
    """Which verb on which resource the bot's service account lacks, and how to grant and check it."""
    call = failed.call
    user = re.search(r'User "([^"]+)"', failed.problem)
    who = f"the bot's service account ({user.group(1)})" if user else "the bot's service account"
    base, _, sub = call.resource.partition("/")
    qualified = f"{base}.{call.group}" if call.group else base
    check = f"kubectl auth can-i {call.verb} {qualified}" + (f" --subresource={sub}" if sub else "")
    check += f" -n {call.namespace}" + (f" --as={user.group(1)}" if user else "")
    return (
        f"{who} is not allowed to {call.verb} {call.resource} in namespace {call.namespace} (403 Forbidden, RBAC); "
        f"{consequence}. Ask a cluster admin to grant it the verb {call.verb} on {call.resource} "
        f'(API group "{call.group}") in {call.namespace} with a Role and RoleBinding; check with `{check}`.'
    )
