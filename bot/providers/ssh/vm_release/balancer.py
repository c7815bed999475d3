"""The load balancers a host is drained through, behind one small interface (``LoadBalancer``).

``HaproxyRuntime`` speaks HAProxy's runtime API (a unix socket or a TCP address): ``set server
<backend>/<server> state drain|ready`` and ``show stat`` for the server's state and its current sessions.
The AWS ALB (``deregister_targets`` / ``register_targets``) is the next driver; the catalog refuses it for now.
"""

from __future__ import annotations

import socket
from typing import Protocol

from bot.providers.ssh.vm_release.options import Balancer
from bot.strategies.base import RollbackError


class LoadBalancer(Protocol):
    where: str

    def drain(self, server: str) -> None: ...

    def ready(self, server: str) -> None: ...

    def state(self, server: str) -> tuple[str, int]:
        """(status, current sessions): ``UP``, ``DRAIN``, ``DOWN``, ``MAINT``…"""


class HaproxyRuntime:
    def __init__(self, balancer: Balancer, timeout: float = 5.0) -> None:
        self.api, self.backend, self.timeout = balancer.runtime_api, balancer.backend, timeout
        self.where = f"HAProxy {self.api} backend {self.backend}"

    def _send(self, line: str) -> str:
        try:
            if self.api.startswith("unix://"):
                s = socket.socket(socket.AF_UNIX)
                address: object = self.api[len("unix://") :]
            else:
                host, port = self.api[len("tcp://") :].rsplit(":", 1)
                s = socket.socket()
                address = (host, int(port))
            with s:
                s.settimeout(self.timeout)
                s.connect(address)
                s.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise RollbackError(f"{self.where}: the runtime API did not answer `{line}` ({exc})") from None
        return b"".join(chunks).decode(errors="replace").strip()

    def _set(self, server: str, state: str) -> None:
        answer = self._send(f"set server {self.backend}/{server} state {state}")
        if answer:  # HAProxy answers nothing when it did it
            raise RollbackError(
                f"{self.where}: `set server {self.backend}/{server} state {state}` was refused: {answer}"
            )

    def drain(self, server: str) -> None:
        self._set(server, "drain")

    def ready(self, server: str) -> None:
        self._set(server, "ready")

    def state(self, server: str) -> tuple[str, int]:
        lines = [ln for ln in self._send("show stat").splitlines() if ln.strip()]
        header = lines[0].lstrip("# ").split(",") if lines else []
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == self.backend and row.get("svname") == server:
                return row.get("status", ""), int(row.get("scur") or 0)
        raise RollbackError(f"{self.where} has no server {server}: check the host's lb_server in the catalog")


def driver(balancer: Balancer) -> LoadBalancer:
    return HaproxyRuntime(balancer)
