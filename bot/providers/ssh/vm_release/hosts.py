"""One host at a time: drain, wait for its sessions, ``ln -sfn``, ``systemctl restart``, health UP, back in.

Every command goes to ``report`` (the timeline) with its exit code and trimmed output. The first host that
fails stops the run; the error says which host is on which release and which is out of the load balancer.
Before it moves a host the bot links ``<current>.before-rollback`` to the release it ran, so *Roll those
hosts forward again* knows where each moved host came from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from bot.providers.ssh.transport import Session, SshError
from bot.providers.ssh.vm_release.balancer import LoadBalancer
from bot.providers.ssh.vm_release.options import Host, VmOptions
from bot.strategies.base import ConcurrentChange, Progress, RollbackError

Report = Callable[..., None]  # (kind, text, **data)
POLL = 0.3


def marker(o: VmOptions) -> str:
    return o.current.rstrip("/") + ".before-rollback"


def release_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Fleet:
    """What each host runs as the run goes, and which are out of the load balancer."""

    releases: dict[str, str]
    out: set[str] = field(default_factory=set)
    unsure: set[str] = field(default_factory=set)

    def words(self, untouched: set[str]) -> str:
        parts = []
        for host, release in self.releases.items():
            said = f"{host} on {release}" + (
                " (or the one before: the link may have moved)" if host in self.unsure else ""
            )
            if host in self.out:
                said += ", OUT of the load balancer (left drained: it is not healthy)"
            elif host in untouched:
                said += ", untouched"
            parts.append(said)
        return "; ".join(parts)


class HostMover:
    def __init__(self, o: VmOptions, lb: LoadBalancer, report: Report, clock=time) -> None:
        self.o, self.lb, self.report, self.clock = o, lb, report, clock

    def run(self, session: Session, command: list[str], what: str) -> str:
        result = session.run(command)
        self.report("command", result.line, host=result.host, exit_code=result.exit_code)
        if not result.ok:
            raise RollbackError(
                f"{session.endpoint.name}: {what} failed: `{result.command}` exited "
                f"{result.exit_code}" + (f": {result.output}" if result.output else "")
            )
        return result.output

    def move(self, host: Host, to: str, expect: str | None, fleet: Fleet, forward: bool = False) -> None:
        o, server = self.o, host.server
        with Session(host.endpoint, o.access) as s:
            live = release_of(self.run(s, ["readlink", o.current], "reading the current release"))
            if expect is not None and live not in (expect, to):
                raise ConcurrentChange(
                    f"{host.name} runs {live} now, not {expect} as planned: someone changed it after the plan was made"
                )
            self.lb.drain(server)
            fleet.out.add(host.name)
            self.report("lb", f"{host.name}: drained in {self.lb.where}", host=host.name)
            self._drain_wait(host)
            if not forward:
                self.run(s, ["ln", "-sfn", f"{o.release_dir.rstrip('/')}/{live}", marker(o)], "recording the release")
            fleet.unsure.add(host.name)
            self.run(s, ["ln", "-sfn", f"{o.release_dir.rstrip('/')}/{to}", o.current], "switching the link")
            fleet.releases[host.name] = to
            fleet.unsure.discard(host.name)
            self.run(s, ["systemctl", "restart", o.unit], "the restart")
        self._health_wait(host)
        self.lb.ready(server)
        fleet.out.discard(host.name)
        self.report("lb", f"{host.name}: back in {self.lb.where} (ready) on {to}", host=host.name)

    def _drain_wait(self, host: Host) -> None:
        deadline = self.clock.monotonic() + self.o.drain_seconds
        while True:
            status, sessions = self.lb.state(host.server)
            if sessions == 0:
                self.report("lb", f"{host.name}: {sessions} active sessions ({status})", host=host.name)
                return
            if self.clock.monotonic() > deadline:
                self.report(
                    "lb",
                    f"{host.name}: still {sessions} active sessions after {self.o.drain_seconds:g} s: "
                    "going on (they are cut by the restart)",
                    host=host.name,
                )
                return
            self.clock.sleep(POLL)

    def _health_wait(self, host: Host) -> None:
        deadline, said = self.clock.monotonic() + self.o.health_seconds, "no answer"
        while self.clock.monotonic() <= deadline:
            try:
                answer = requests.get(host.health_url, timeout=2)
                status = answer.json().get("status") if "json" in answer.headers.get("content-type", "") else None
                said = f"HTTP {answer.status_code}" + (f", {status}" if status else "")
                if answer.status_code == 200 and status == "UP":
                    self.report("health", f"{host.name}: {host.health_url} answered UP", host=host.name)
                    return
            except (requests.RequestException, ValueError) as exc:
                said = type(exc).__name__
            self.clock.sleep(POLL)
        raise RollbackError(
            f"{host.name}: its health URL {host.health_url} did not answer UP within "
            f"{self.o.health_seconds:g} s (last: {said})"
        )


def roll(
    o: VmOptions,
    lb: LoadBalancer,
    moves: list[dict],
    report: Report,
    progress: Callable[[Progress], None],
    forward: bool = False,
) -> Fleet:
    """Each host of ``moves`` ({host, from, to}) in turn; RollbackError at the first failure, saying where every
    host is."""
    hosts = {h.name: h for h in o.hosts}
    fleet = Fleet({m["host"]: m["from"] for m in moves})
    mover, total = HostMover(o, lb, report), len(moves)
    for i, m in enumerate(moves):
        done = i
        if m["from"] == m["to"] and not forward:
            report("progress", f"{m['host']}: already on {m['to']}, skipped")
            continue
        progress(
            Progress(
                f"{done}/{total} hosts on the target · {m['host']}: drain, link {m['to']}, restart",
                desired=total,
                updated=done,
                available=done,
            )
        )
        try:
            mover.move(hosts[m["host"]], m["to"], None if forward else m["from"], fleet, forward)
        except (RollbackError, SshError) as exc:
            untouched = {x["host"] for x in moves[i + 1 :]}
            raise RollbackError(
                f"{exc}. The run stopped at {m['host']}; the remaining hosts were not touched. "
                f"Hosts now: {fleet.words(untouched)}."
            ) from exc
    progress(Progress(f"{total}/{total} hosts on the target", desired=total, updated=total, available=total, done=True))
    return fleet
