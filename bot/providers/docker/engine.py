"""The ``docker`` SDK client of one Engine, and its errors in words a person can act on."""

from __future__ import annotations

from typing import Any

import docker
from docker.errors import APIError, DockerException
from docker.tls import TLSConfig
from requests.exceptions import RequestException

from bot.strategies.base import RollbackError

TIMEOUT_SECONDS = 20


def engine_client(host: str, ca: str = "", cert: str = "", key: str = "") -> docker.DockerClient:
    """A client of ``host`` (``tcp://`` with TLS when the files are given, ``ssh://`` through the ssh binary);
    ``version="auto"`` negotiates the API version with the Engine's ``/version``."""
    tls = TLSConfig(client_cert=(cert, key), ca_cert=ca, verify=True) if cert else False
    try:
        return docker.DockerClient(
            base_url=host, version="auto", tls=tls, timeout=TIMEOUT_SECONDS, use_ssh_client=host.startswith("ssh://")
        )
    except (DockerException, RequestException) as exc:
        raise RollbackError(
            f"the bot could not reach the Docker Engine at {host} ({exc}). Check the service's "
            "options (host, tls) in the services catalog and that the Engine answers."
        ) from exc


class EngineError(RollbackError):
    """The Engine refused or failed a call: its status and its own message."""

    def __init__(self, message: str, status: int | None, said: str) -> None:
        super().__init__(message)
        self.status, self.said = status, said

    @property
    def out_of_sequence(self) -> bool:
        return "update out of sequence" in self.said


def call(where: str, consequence: str, fn, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` against the Engine; an error as an ``EngineError`` naming ``where``."""
    try:
        return fn(*args, **kwargs)
    except APIError as exc:
        said = str(exc.explanation or exc)
        status = exc.status_code
        if status == 404:
            text = f"{where} was not found on the Engine ({said}); {consequence}. Check the service's name."
        else:
            text = f"the Docker Engine refused the call on {where} (HTTP {status}: {said}); {consequence}."
        raise EngineError(text, status, said) from exc
    except (DockerException, RequestException) as exc:
        raise EngineError(
            f"the Docker Engine of {where} did not answer ({exc}); {consequence}.", None, str(exc)
        ) from exc
