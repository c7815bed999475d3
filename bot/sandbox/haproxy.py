"""A real HAProxy (Debian's ``haproxy``) in front of the sandbox's VM hosts, with its runtime API socket.

The frontend listens on a loopback port; the backend has one server per host, health-checked on its
``/actuator/health`` every half second. ``servers()`` reads ``show stat`` the way the bot's driver does.
"""

from __future__ import annotations

import socket
from pathlib import Path

from bot.sandbox.httpserver import free_port
from bot.sandbox.process import LoopbackProcess, ProcessError

HAPROXY = "/usr/sbin/haproxy"


class HaproxyError(ProcessError):
    pass


class HaproxyProcess(LoopbackProcess):
    name = "haproxy"
    package = "haproxy"
    error = HaproxyError

    def __init__(self, backend: str, servers: dict[str, int], start_timeout: float = 10.0) -> None:
        super().__init__(HAPROXY, free_port(), start_timeout)
        self.backend, self.servers_ports = backend, servers

    @property
    def socket_path(self) -> Path:
        return self.directory / "admin.sock"

    def arguments(self, directory: Path) -> list[str]:
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check inter 500ms fall 1 rise 1"
            for name, port in self.servers_ports.items()
        )
        (directory / "haproxy.cfg").write_text(f"""global
    stats socket {directory / "admin.sock"} mode 600 level admin
    stats timeout 10s

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend web
    bind 127.0.0.1:{self.port}
    default_backend {self.backend}

backend {self.backend}
    option httpchk GET /actuator/health
{servers}
""")
        return ["-db", "-f", str(directory / "haproxy.cfg")]

    def ready(self) -> bool:
        try:
            return bool(self.command("show info"))
        except OSError:
            return False

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def servers(self) -> dict[str, dict[str, str]]:
        """Each server of the backend by name: its ``show stat`` row (``status`` UP, DOWN, DRAIN, MAINT…)."""
        try:
            text = self.command("show stat")
        except OSError:
            return {}
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines:
            return {}
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, ln.split(","), strict=False)) for ln in lines[1:]]
        return {
            r["svname"]: r
            for r in rows
            if r.get("pxname") == self.backend and r["svname"] not in ("FRONTEND", "BACKEND")
        }
