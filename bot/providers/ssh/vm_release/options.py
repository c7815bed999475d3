"""``options:`` of a ``vm-release`` service: its hosts, where releases live, the unit, SSH access, the balancer."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.config.reader import INVALID, CatalogReader, is_number, is_positive_int, is_url
from bot.providers.ssh.transport import Access, Endpoint

FIELDS = {
    "hosts": "the hosts, in the order they are rolled: each a name, address, port (default 22) and health_url",
    "release_dir": "the directory of the releases, one directory per version (/srv/app/releases)",
    "current": "the symlink the unit runs from (/srv/app/current)",
    "unit": "the systemd unit restarted on each host (app.service)",
    "user": "the SSH user",
    "key_file": "the SSH private key file (a mounted Secret is a file)",
    "known_hosts": "known_hosts lines of the hosts (or known_hosts_file)",
    "known_hosts_file": "a known_hosts file of the hosts (or known_hosts)",
    "load_balancer": "the load balancer to drain through: {type: haproxy, runtime_api, backend}",
    "drain_seconds": "how long to wait for a drained host's sessions to reach 0 (default 60)",
    "health_seconds": "how long to wait for a restarted host's health URL to answer UP (default 60)",
    "ssh_timeout_seconds": "SSH connect timeout (default 10)",
}
HOST_FIELDS = {
    "name": "how messages name it",
    "address": "its address",
    "port": "its SSH port (22)",
    "health_url": "its own health URL",
    "lb_server": "its server name in the load balancer (its name)",
}
LB_FIELDS = {
    "type": "haproxy (alb: not available yet)",
    "runtime_api": "unix:///path or tcp://host:port",
    "backend": "the HAProxy backend of the hosts",
}
ABSOLUTE = (lambda v: isinstance(v, str) and v.startswith("/") and "\n" not in v, "an absolute path")
NAME = (lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", v) is not None, "a name")
TEXT = (lambda v: isinstance(v, str) and v.strip() != "", "text")
PORT = (lambda v: is_positive_int(v) and v < 65536, "a port number")
UNIT = (lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9@._-]+", v) is not None, "a systemd unit name")
API = (
    lambda v: isinstance(v, str) and re.fullmatch(r"unix:///\S+|tcp://[^\s:]+:\d+", v) is not None,
    "unix:///path or tcp://host:port",
)
SECONDS = (lambda v: is_number(v) and v > 0, "a number of seconds")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    health_url: str
    port: int = 22
    lb_server: str = ""

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.name, self.address, self.port)

    @property
    def server(self) -> str:
        return self.lb_server or self.name


@dataclass(frozen=True)
class Balancer:
    type: str
    runtime_api: str
    backend: str


@dataclass(frozen=True)
class VmOptions:
    hosts: tuple[Host, ...]
    release_dir: str
    current: str
    unit: str
    user: str
    key_file: str
    load_balancer: Balancer
    known_hosts: str = ""
    known_hosts_file: str = ""
    drain_seconds: float = 60
    health_seconds: float = 60
    ssh_timeout_seconds: float = 10

    @property
    def access(self) -> Access:
        return Access(
            self.user,
            self.key_file,
            self.known_hosts,
            self.known_hosts_file,
            connect_timeout=self.ssh_timeout_seconds,
            command_timeout=max(30.0, self.health_seconds),
        )

    @classmethod
    def of(cls, options: dict[str, Any]) -> VmOptions:
        """Back from ``Target.options`` (a dict, as a run stores it as JSON)."""
        values = {k: v for k, v in options.items() if k in {f.name for f in dataclasses.fields(cls)}}
        values["hosts"] = tuple(Host(**h) for h in options["hosts"])
        values["load_balancer"] = Balancer(**options["load_balancer"])
        return cls(**values)

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> VmOptions | None:
        given = r.mapping(node, where, FIELDS)
        if given is None:
            return None
        required = ("hosts", "release_dir", "current", "unit", "user", "key_file", "load_balancer")
        for key in (k for k in required if k not in given):
            r.error(node, f"{where}.{key}", f"missing ({FIELDS[key]})")
        if "known_hosts" not in given and "known_hosts_file" not in given:
            r.error(
                node,
                f"{where}.known_hosts",
                "missing (known_hosts lines or known_hosts_file: the bot never "
                "trusts a host key it has not been given)",
            )
        checks = {
            "release_dir": ABSOLUTE,
            "current": ABSOLUTE,
            "unit": UNIT,
            "user": NAME,
            "key_file": ABSOLUTE,
            "known_hosts": TEXT,
            "known_hosts_file": ABSOLUTE,
            "drain_seconds": SECONDS,
            "health_seconds": SECONDS,
            "ssh_timeout_seconds": SECONDS,
        }
        values: dict[str, Any] = {k: r.check(n, f"{where}.{k}", *checks[k]) for k, n in given.items() if k in checks}
        if "hosts" in given:
            values["hosts"] = _hosts(r, given["hosts"], f"{where}.hosts")
        if "load_balancer" in given:
            values["load_balancer"] = _balancer(r, given["load_balancer"], f"{where}.load_balancer")
        if INVALID in values.values() or None in values.values() or any(k not in given for k in required):
            return None
        return cls(**values)


def _hosts(r: CatalogReader, node: yaml.Node, where: str) -> tuple[Host, ...] | object:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        return r.error(node, where, "expected a list of hosts (at least one)")
    hosts = []
    for i, item in enumerate(node.value):
        given = r.mapping(item, f"{where}[{i}]", HOST_FIELDS)
        if given is None:
            return INVALID
        checks = {
            "name": NAME,
            "address": TEXT,
            "port": PORT,
            "health_url": (is_url, "an http(s) URL"),
            "lb_server": NAME,
        }
        missing = [k for k in ("name", "address", "health_url") if k not in given]
        for key in missing:
            r.error(item, f"{where}[{i}].{key}", f"missing ({HOST_FIELDS[key]})")
        values = {k: r.check(n, f"{where}[{i}].{k}", *checks[k]) for k, n in given.items()}
        if missing or INVALID in values.values():
            return INVALID
        hosts.append(Host(**values))
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        return r.error(node, where, "two hosts have the same name")
    return tuple(hosts)


def _balancer(r: CatalogReader, node: yaml.Node, where: str) -> Balancer | object:
    given = r.mapping(node, where, LB_FIELDS)
    if given is None:
        return INVALID
    kind = (
        r.check(given["type"], f"{where}.type", lambda v: v in ("haproxy", "alb"), "haproxy or alb")
        if "type" in given
        else r.error(node, f"{where}.type", "missing (haproxy)")
    )
    if kind == "alb":
        return r.error(given["type"], f"{where}.type", "the AWS ALB driver is not available yet (use haproxy)")
    missing = [k for k in ("runtime_api", "backend") if k not in given]
    for key in missing:
        r.error(node, f"{where}.{key}", f"missing ({LB_FIELDS[key]})")
    checks = {"runtime_api": API, "backend": NAME}
    values = {k: r.check(given[k], f"{where}.{k}", *checks[k]) for k in checks if k in given}
    if kind is INVALID or missing or INVALID in values.values():
        return INVALID
    return Balancer(type=kind, **values)
