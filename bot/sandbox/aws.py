"""AWS for the sandbox: moto in server mode on a free loopback port, behind a thin front.

The bot's AWS code talks to it over real HTTP with boto3, exactly as to AWS, only with ``AWS_ENDPOINT_URL``
set (to the front's URL). moto keeps its backends per process, so run one MotoServer per process at a time;
``start()`` resets them to an empty account.

``AwsFront`` passes every request through to moto and adds what moto does not model:

- it records each call as the IAM action it needs (``ecs:UpdateService``), for the test that compares the calls
  with the policy made from the specs (``calls``);
- it answers a call with an AWS error on demand (``fail("ecs:UpdateService", "AccessDeniedException")``), in the
  wire format of the call's protocol, as AWS would: AccessDenied, throttling that outlasts every retry;
- a ``hook`` per IAM action answers it instead of moto, or rewrites moto's answer: the ECS deployment model
  (``bot/sandbox/ecs.py``) lays its deployments over DescribeServices and starts one on UpdateService.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.request
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode

import boto3
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

from bot.sandbox.httpserver import Request, Response, SandboxServer

log = logging.getLogger(__name__)

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
DUMMY_KEY = "testing"
IAM_PREFIX = {"monitoring": "cloudwatch"}  # as bot.providers.aws.errors says it (the sandbox does not import it)
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "content-encoding", "keep-alive", "server", "date"}

# A REST call's IAM action by its method and path (JSON and query calls name theirs): (prefix, method, path, action);
# each module that models a REST service adds its own (``bot/sandbox/cloudfront.py``).
REST_ACTIONS: list[tuple[str, str, re.Pattern[str], str]] = [
    ("route53", "POST", re.compile(r"/2013-04-01/hostedzone/[^/]+/rrset/?"), "ChangeResourceRecordSets"),
    ("route53", "GET", re.compile(r"/2013-04-01/hostedzone/[^/]+/rrset/?"), "ListResourceRecordSets"),
    ("s3", "PUT", re.compile(r"/[^/]+/.+"), "PutObject"),
    ("s3", "GET", re.compile(r"/[^/]+/.+"), "GetObject"),
]

Forward = Callable[[Request], Response]
Hook = Callable[[Request, Forward], Response]  # answers one IAM action: itself, or from moto's answer (forward)


def credentials_env(endpoint_url: str) -> dict[str, str]:
    """The environment boto3's default chain reads, pointed at the sandbox: dummy keys, the region, the
    standard ``AWS_ENDPOINT_URL``."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }


class MotoServer:
    def __init__(self) -> None:
        self._server: ThreadedMotoServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if not self._server:
            raise RuntimeError("MotoServer is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request at INFO
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        reset = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None

    def client(self, service: str):
        """A boto3 client for ``service`` bound to this server, with dummy credentials."""
        return client_for(self.url, service)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def client_for(url: str, service: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def action_of(req: Request) -> tuple[str, str]:
    """(IAM action, protocol) of a request: ``ecs:UpdateService`` from a JSON call's X-Amz-Target, or a query
    call's ``Action=``; a REST call (S3, CloudFront, Route53) as ``REST_ACTIONS`` names it, else
    ``<prefix>:<METHOD> <path>``."""
    scope = req.headers.get("authorization", "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    prefix = IAM_PREFIX.get(scope[3], scope[3]) if len(scope) > 3 else "unknown"
    target = req.headers.get("x-amz-target")
    if target:
        return f"{prefix}:{target.rsplit('.', 1)[-1]}", "json"
    form = parse_qs(req.body.decode("utf-8", "replace")) if b"Action=" in req.body else req.query
    if form.get("Action"):
        return f"{prefix}:{form['Action'][0]}", "query"
    for service, method, path, action in REST_ACTIONS:
        if service == prefix and method == req.method and path.fullmatch(req.path):
            return f"{prefix}:{action}", "rest"
    return f"{prefix}:{req.method} {req.path}", "rest"


def error_response(protocol: str, code: str, message: str) -> Response:
    """An AWS error as its protocol sends it (botocore parses it into the ClientError a real one makes)."""
    status = 403 if code.startswith("AccessDenied") else 400
    request_id = "sandbox-" + code.lower()
    if protocol == "json":
        return Response(
            status,
            json.dumps({"__type": code, "message": message}).encode(),
            {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
        )
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(status, body.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})


def denied_message(action: str) -> str:
    return (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/rollback-bot/sandbox is not authorized to perform: {action} "
        f"because no identity-based policy allows the {action} action"
    )


class AwsFront:
    """The app in front of moto (serve it with ``SandboxServer``): records, fails on demand, and hooks."""

    def __init__(self, moto_url: str) -> None:
        self.moto_url = moto_url
        self.hooks: dict[str, Hook] = {}
        self._faults: dict[str, str] = {}  # IAM action -> error code, until cleared
        self._calls: list[str] = []
        self._lock = threading.Lock()
        self._local = threading.local()  # a requests.Session per serving thread

    def fail(self, action: str, code: str = "AccessDeniedException") -> None:
        """From now on, answer ``action`` with ``code`` (every retry too) until ``clear``."""
        with self._lock:
            self._faults[action] = code

    def clear(self, action: str | None = None) -> None:
        with self._lock:
            if action is None:
                self._faults.clear()
            else:
                self._faults.pop(action, None)

    @property
    def calls(self) -> list[str]:
        """Every IAM action called so far, in order (a retry counts again)."""
        with self._lock:
            return list(self._calls)

    def forget_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def forward(self, req: Request) -> Response:
        """The request as moto answers it."""
        headers = {k: v for k, v in req.headers.items() if k not in ("host", "content-length", "connection")}
        http = getattr(self._local, "http", None) or requests.Session()
        self._local.http = http
        answer = http.request(
            req.method,
            self.moto_url + req.path,
            params=urlencode(req.query, doseq=True) or None,
            headers=headers,
            data=req.body,
            timeout=30,
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        return Response(answer.status_code, answer.content, kept)

    def __call__(self, req: Request) -> Response:
        action, protocol = action_of(req)
        with self._lock:
            self._calls.append(action)
            fault = self._faults.get(action)
            hook = self.hooks.get(action)
        if fault:
            message = denied_message(action) if "AccessDenied" in fault else f"Rate exceeded ({action})"
            return error_response(protocol, fault, message)
        return hook(req, self.forward) if hook else self.forward(req)


class AwsSandbox:
    """moto and its front, started together; ``url`` is what the bot's ``AWS_ENDPOINT_URL`` names."""

    def __init__(self) -> None:
        self.moto = MotoServer()
        self.front: AwsFront | None = None
        self._server: SandboxServer | None = None

    @property
    def url(self) -> str:
        if not self._server:
            raise RuntimeError("AwsSandbox is not started")
        return self._server.url

    def start(self) -> AwsSandbox:
        self.moto.start()
        self.front = AwsFront(self.moto.url)
        self._server = SandboxServer(self.front).start()
        return self

    def client(self, service: str):
        """A boto3 client through the front (what the bot sees), with dummy credentials."""
        return client_for(self.url, service)

    def env(self) -> dict[str, str]:
        return credentials_env(self.url)

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None
        self.moto.stop()

    def __enter__(self) -> AwsSandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
