"""The one owner of the bot's connections to the platforms it acts on.

Each client is built once, on first use (a report needs no cluster), shared by every strategy and the config
tracker that need it, and closed with the runtime. Strategies never build their own: two ApiClients for one
cluster meant two connection pools and two thread pools that nobody closed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from bot.strategies.base import RollbackError

if TYPE_CHECKING:
    from docker import DockerClient
    from kubernetes.client import ApiClient

    from bot.providers.aws.session import AwsSession


class Clients:
    """The clients of this bot, one per place it connects to, keyed by what tells the places apart.

    - Kubernetes: one ``ApiClient`` per kubeconfig file and context (``None``: the bot's KUBECONFIG, or
      in-cluster when it has none; the file's current context).
    - AWS: one boto3 ``Session`` per account and region (``aws(account, region)``), so the ECS strategy and an
      RDS snapshot backup share it and its clients. Credentials come from boto3's default chain (environment,
      profile, IRSA web identity on EKS, instance role); the standard ``AWS_ENDPOINT_URL`` points it elsewhere
      (moto in the sandbox). Every client retries in botocore's ``standard`` mode.
    - Docker: one SDK client per Engine endpoint and TLS files (``docker(host, ca, cert, key)``).
    - SSH (its own issue): one transport per host, built here by an ``ssh(host)`` method, so the steps of a VM
      release reuse one connection.

    Each kind gets its own dict and method here; ``close`` closes every one of them.
    """

    def __init__(self, kubeconfig: str | None = None) -> None:
        self.kubeconfig = kubeconfig  # the default; a service may name another file or context later
        self._lock = threading.Lock()
        self._kubernetes: dict[tuple[str | None, str | None], ApiClient] = {}
        self._aws: dict[tuple[str | None, str], AwsSession] = {}
        self._docker: dict[tuple[str, str, str, str], DockerClient] = {}

    def kubernetes(self, kubeconfig: str | None = None, context: str | None = None) -> ApiClient:
        """The API client of the cluster named by ``kubeconfig`` (default: the bot's) and ``context``;
        RollbackError, in words, when Kubernetes is not configured."""
        key = (kubeconfig or self.kubeconfig, context)
        with self._lock:
            if key not in self._kubernetes:
                self._kubernetes[key] = _kubernetes_client(*key)
            return self._kubernetes[key]

    def aws(self, account: str | None, region: str) -> AwsSession:
        """The boto3 session of ``account`` (a named profile that reaches it; ``None``: the default credential
        chain) in ``region``, built once; ``session.client("ecs")`` gives its clients, also built once."""
        from bot.providers.aws.session import AwsSession  # boto3 costs start-up time a report does not need

        key = (account, region)
        with self._lock:
            if key not in self._aws:
                self._aws[key] = AwsSession(account, region)
            return self._aws[key]

    def docker(self, host: str, ca: str = "", cert: str = "", key: str = "") -> DockerClient:
        """The ``docker`` SDK client of one Engine (``tcp://`` with TLS client certificate files, or ``ssh://``
        through the system's ssh), built once; its API version negotiated with the Engine."""
        from bot.providers.docker.engine import engine_client  # the SDK costs start-up time a report does not need

        with self._lock:
            if (host, ca, cert, key) not in self._docker:
                self._docker[(host, ca, cert, key)] = engine_client(host, ca, cert, key)
            return self._docker[(host, ca, cert, key)]

    def close(self) -> None:
        """Close every client built so far (their connection and thread pools)."""
        with self._lock:
            built, self._kubernetes = list(self._kubernetes.values()), {}
            sessions, self._aws = list(self._aws.values()), {}
            engines, self._docker = list(self._docker.values()), {}
        for engine in engines:
            engine.close()
        for api_client in built:
            api_client.close()
        for session in sessions:
            session.close()


def _kubernetes_client(kubeconfig: str | None, context: str | None) -> ApiClient:
    # Imported when first needed: the kubernetes client costs start-up time a report does not need.
    from kubernetes import config as k8s_config
    from kubernetes.client import ApiClient

    try:
        if kubeconfig:
            return k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
        k8s_config.load_incluster_config()
        return ApiClient()
    except (k8s_config.ConfigException, OSError) as exc:
        raise RollbackError(
            f"Kubernetes is not configured on this bot ({exc}). Set KUBECONFIG, or run the bot in the cluster."
        ) from exc
