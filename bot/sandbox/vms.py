"""VM hosts for the ``vm-release`` strategy: real sshd per host (``bot/sandbox/sshd.py``), real HAProxy in front
(``bot/sandbox/haproxy.py``), each host with its release tree and a ``systemctl`` of its own.

A host's tree, seen by its sessions at ``mount``: ``releases/<version>/IMAGE`` (the image the release runs,
which the scenario's ``images`` say how it behaves) and ``current``, a symlink to one release. The host's
``systemctl restart <unit>`` reads ``current`` and records in ``state/<unit>`` that the unit is active on that
release (``stop``: inactive); the host's service, a loopback HTTP server of the sandbox, serves its health
from that record, so HAProxy's checks, the health URL and Prometheus follow the release the host serves.
Faults: ``fail_restart(host)`` (the next restarts exit 1, as a unit that does not start) and ``hang(host)``
(its sshd stops answering: SSH times out).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from bot.sandbox.haproxy import HaproxyProcess
from bot.sandbox.httpserver import Request, Response, SandboxServer, scratch_dir
from bot.sandbox.scenario import Scenario, ServiceSpec
from bot.sandbox.services import ServiceSimulator
from bot.sandbox.sshd import SshdHost, keygen

SERVICE, UNIT, BACKEND = "shopping-vm", "shopping.service", "shopping"
IMAGE = "registry.local/shopping-service:{}"
RELEASES = (("v1.2.3", 72), ("v1.2.4", 26), ("v1.2.5", 1))  # version, age in hours; the last one is live

SYSTEMCTL = """#!/bin/sh
# The sandbox's systemctl for host {host}: start|stop|restart|is-active|status <unit>.
state={state}
cmd=$1; unit=${{2%.service}}.service
case "$cmd" in
  start|restart)
    if [ -e {faults}/restart ]; then
      echo inactive > "$state/$unit"
      echo "Job for $unit failed because the control process exited with error code." >&2
      echo "See \\"systemctl status $unit\\" and \\"journalctl -xeu $unit\\" for details." >&2
      exit 1
    fi
    release=$(readlink -f {mount}/current)
    if [ ! -f "$release/IMAGE" ]; then echo "$unit: no release at $release" >&2; exit 1; fi
    printf 'active %s %s\\n' "$(date +%s.%N)" "$(cat "$release/IMAGE")" > "$state/$unit.new"
    mv "$state/$unit.new" "$state/$unit" ;;
  stop) echo inactive > "$state/$unit" ;;
  is-active) read -r word rest < "$state/$unit" 2>/dev/null || word=inactive; echo "$word"
    [ "$word" = active ] ;;
  status) cat "$state/$unit" 2>/dev/null || echo inactive ;;
  *) echo "systemctl (sandbox): unknown command $cmd" >&2; exit 1 ;;
esac
"""


class VmHost:
    """One host: its directory, its sshd and its service's health server."""

    def __init__(self, fleet: VmFleet, name: str) -> None:
        self.fleet, self.name = fleet, name
        self.dir = fleet.root / "hosts" / name
        self.sshd: SshdHost | None = None
        self.app: SandboxServer | None = None

    def lay_out(self, live: str) -> None:
        for sub in ("releases", "state", "faults", "bin"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        now = time.time()
        for version, age_hours in RELEASES:
            release = self.dir / "releases" / version
            release.mkdir()
            (release / "IMAGE").write_text(IMAGE.format(version) + "\n")
            os.utime(release, (now - age_hours * 3600, now - age_hours * 3600))  # `ls -1t` orders by this
        (self.dir / "current").symlink_to(self.fleet.mount / "releases" / live)
        (self.dir / "state" / UNIT).write_text(f"active {now - 3600} {IMAGE.format(live)}\n")
        script = self.dir / "bin" / "systemctl"
        script.write_text(
            SYSTEMCTL.format(
                host=self.name, state=self.dir / "state", faults=self.dir / "faults", mount=self.fleet.mount
            )
        )
        script.chmod(0o755)

    def unit(self) -> tuple[bool, float, str]:
        """(active, since (epoch seconds), image) as the host's systemctl recorded it."""
        words = ((self.dir / "state" / UNIT).read_text().split() or ["inactive"]) + ["0", ""]
        return words[0] == "active", float(words[1] or 0), words[2] if words[0] == "active" else ""

    def release(self) -> str:
        return Path(os.readlink(self.dir / "current")).name

    def up(self) -> bool:
        active, since, image = self.unit()
        b = self.fleet.scenario.behaviour(image)
        return active and time.time() - since >= b.ready_after and not b.crashloop and b.error_rate < 0.5

    def health(self, req: Request) -> Response:
        if req.path != "/actuator/health":
            return Response.json({"error": f"no route {req.path}"}, status=404)
        up = self.up()
        return Response.json({"status": "UP" if up else "DOWN", "host": self.name}, status=200 if up else 503)

    def pod(self) -> dict:
        """The host as the service simulator counts a serving replica."""
        _, _, image = self.unit()
        return {
            "metadata": {"name": self.name},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            "spec": {"containers": [{"name": "app", "image": image}]},
        }


class VmFleet:
    """The hosts of the VM service, their load balancer, and the service's metrics (one Prometheus target)."""

    name = SERVICE

    def __init__(self, scenario: Scenario, clock: Any, hosts: int = 3) -> None:
        self.scenario, self.clock = scenario, clock
        self.root = Path(scratch_dir("sandbox-vms-"))
        self.mount = self.root / "srv"  # what every host's sessions see as their own tree
        self.hosts = [VmHost(self, f"web-{i}") for i in range(1, hosts + 1)]
        self.key_file = self.root / "client" / "id_ed25519"
        self.known_hosts_file = self.root / "client" / "known_hosts"
        self.haproxy: HaproxyProcess | None = None
        self.metrics: SandboxServer | None = None

    def host(self, name: str) -> VmHost:
        return next(h for h in self.hosts if h.name == name)

    def start(self) -> VmFleet:
        try:
            self._start()
        except Exception:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.mount.mkdir(parents=True)
        self.key_file.parent.mkdir(parents=True)
        client = keygen(self.key_file, "rollback-bot-sandbox")
        for host in self.hosts:
            host.lay_out(RELEASES[-1][0])
            host.app = SandboxServer(host.health).start()
            host.sshd = SshdHost(host.dir, self.mount, client, host.dir / "bin").start()
        self.known_hosts_file.write_text("".join(h.sshd.known_hosts_line() + "\n" for h in self.hosts))
        self.haproxy = HaproxyProcess(BACKEND, {h.name: h.app.port for h in self.hosts}).start()
        spec = ServiceSpec(name=SERVICE, namespace="", replicas=len(self.hosts))
        self.metrics = SandboxServer(ServiceSimulator(spec, self.scenario, self.routes, self.clock)).start()

    def routes(self) -> list[tuple[float, list[dict]]]:
        """The traffic goes to the hosts HAProxy sends it to: UP, not drained or in maintenance."""
        states = self.haproxy.servers() if self.haproxy else {}
        serving = [h.pod() for h in self.hosts if states.get(h.name, {}).get("status") == "UP" and h.up()]
        return [(100.0, serving)]

    def lb_status(self) -> dict[str, str]:
        return {name: row.get("status", "") for name, row in (self.haproxy.servers() if self.haproxy else {}).items()}

    def releases(self) -> dict[str, str]:
        return {h.name: h.release() for h in self.hosts}

    def fail_restart(self, host: str, failing: bool = True) -> None:
        flag = self.host(host).dir / "faults" / "restart"
        flag.touch() if failing else flag.unlink(missing_ok=True)

    def hang(self, host: str, hung: bool = True) -> None:
        self.host(host).sshd.freeze(hung)

    def catalog_entry(self) -> dict[str, Any]:
        """The service's catalog entry (without the people, which the world adds)."""
        assert self.haproxy is not None and self.metrics is not None
        return {
            "strategy": "vm-release",
            "health_url": f"{self.haproxy.url}/actuator/health",
            "options": {
                "hosts": [
                    {
                        "name": h.name,
                        "address": "127.0.0.1",
                        "port": h.sshd.port,
                        "health_url": f"{h.app.url}/actuator/health",
                    }
                    for h in self.hosts
                ],
                "release_dir": str(self.mount / "releases"),
                "current": str(self.mount / "current"),
                "unit": UNIT,
                "user": "root",
                "key_file": str(self.key_file),
                "known_hosts_file": str(self.known_hosts_file),
                "load_balancer": {
                    "type": "haproxy",
                    "runtime_api": f"unix://{self.haproxy.socket_path}",
                    "backend": BACKEND,
                },
                "drain_seconds": 10,
                "health_seconds": 20,
            },
        }

    def stop(self) -> None:
        for part in (self.metrics, self.haproxy, *(h.sshd for h in self.hosts), *(h.app for h in self.hosts)):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - stopping goes on whatever one part does
                    pass
        shutil.rmtree(self.root, ignore_errors=True)
