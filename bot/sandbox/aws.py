"""AWS for the sandbox: moto in server mode on a free loopback port.

The bot's AWS code talks to it over real HTTP with boto3, exactly as to AWS,
only with ``endpoint_url`` set. moto keeps its backends per process, so run one
MotoServer per process at a time; ``start()`` resets them to an empty account.
"""

from __future__ import annotations

import urllib.request

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
DUMMY_KEY = "testing"


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
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=DUMMY_KEY,
            aws_secret_access_key=DUMMY_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
