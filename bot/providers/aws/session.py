"""One boto3 session of an account and region, and its clients, each built once (``Clients.aws``)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# botocore's standard retry mode: throttling and transient errors retried with backoff, 3 attempts in all. What
# outlasts them reaches ``bot.providers.aws.errors`` and is told in words.
CLIENT_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=20)


class AwsSession:
    """The default credential chain (environment, profile, IRSA web identity on EKS, instance role) of
    ``account`` (a named profile; ``None``: no profile) in ``region``. ``AWS_ENDPOINT_URL`` (botocore reads it)
    sends every client elsewhere: moto in the sandbox."""

    def __init__(self, account: str | None, region: str) -> None:
        self.account, self.region = account, region
        self._session = boto3.session.Session(profile_name=account, region_name=region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # a boto3 session is not thread-safe while it makes clients; clients are

    def client(self, name: str) -> Any:
        """The ``name`` client (``"ecs"``, ``"elbv2"``, ...) of this session, built once."""
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self._session.client(name, config=CLIENT_CONFIG)
            return self._clients[name]

    def close(self) -> None:
        with self._lock:
            built, self._clients = list(self._clients.values()), {}
        for client in built:
            client.close()
