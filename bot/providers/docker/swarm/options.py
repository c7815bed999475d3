"""``options:`` of a ``swarm`` service: the Engine endpoint (``tcp://`` with TLS client certificate files, or
``ssh://``), and the service's name."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import yaml

from bot.config.reader import INVALID, CatalogReader

FIELDS = {
    "host": "the Engine endpoint, DOCKER_HOST-style: tcp://host:2376 (with tls) or ssh://user@host",
    "service": "the Swarm service's name",
    "tls": "the TLS client certificate files of a tcp:// endpoint: ca, cert, key",
}
TLS_FIELDS = {
    "ca": "the CA that signed the Engine's certificate (a file)",
    "cert": "the bot's client certificate (a file)",
    "key": "its private key (a file)",
}
SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")
FILE = (lambda v: isinstance(v, str) and v.startswith("/"), "an absolute path to a file (a mounted Secret)")


def _host(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("tcp", "ssh") and bool(parts.hostname) and (parts.scheme == "ssh" or bool(parts.port))


def loopback(host: str) -> bool:
    name = urlsplit(host).hostname or ""
    try:
        return name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SwarmOptions:
    host: str
    service: str
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    @property
    def where(self) -> str:
        """``Swarm service basket (tcp://10.0.0.5:2376)``: how messages name it."""
        return f"Swarm service {self.service} ({self.host})"

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> SwarmOptions | None:
        given = r.mapping(node, where, FIELDS)
        if given is None:
            return None
        for key in ("host", "service"):
            if key not in given:
                r.error(node, f"{where}.{key}", f"missing ({FIELDS[key]})")
        if "host" not in given or "service" not in given:
            return None
        host = r.check(given["host"], f"{where}.host", _host, FIELDS["host"])
        service = r.check(
            given["service"],
            f"{where}.service",
            lambda v: isinstance(v, str) and SERVICE_NAME.fullmatch(v) is not None,
            "a service name",
        )
        tls = _tls(r, given.get("tls"), f"{where}.tls")
        if INVALID in (host, service) or tls is None:
            return None
        if host.startswith("tcp://") and not tls and not loopback(host):
            r.error(
                given["host"],
                f"{where}.tls",
                "a tcp:// Engine off this host needs TLS client certificates "
                "(tls: ca, cert, key): the Engine API without TLS gives root on its nodes to anyone who reaches it",
            )
            return None
        if host.startswith("ssh://") and tls:
            r.error(given["tls"], f"{where}.tls", "an ssh:// endpoint uses SSH, not TLS certificates")
            return None
        return cls(host=host, service=service, **{f"tls_{k}": v for k, v in tls.items()})


def _tls(r: CatalogReader, node: yaml.Node | None, where: str) -> dict[str, str] | None:
    """The TLS files ({} when there is no ``tls:``); None after an error."""
    if node is None:
        return {}
    given = r.mapping(node, where, TLS_FIELDS)
    if given is None:
        return None
    missing = [k for k in TLS_FIELDS if k not in given]
    for key in missing:
        r.error(node, f"{where}.{key}", f"missing ({TLS_FIELDS[key]})")
    values = {k: r.check(n, f"{where}.{k}", *FILE) for k, n in given.items()}
    return None if missing or INVALID in values.values() else values
