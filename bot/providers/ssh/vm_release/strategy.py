"""``VmRelease``: the ``Strategy`` protocol on hosts with release directories, over SSH.

The plan reads each host's ``readlink <current>`` and ``ls -1t <release_dir>`` (the revisions are the first
host's releases, oldest first); it refuses when the target release is missing on any host. The run is
``hosts.roll``; the emergency *Roll those hosts forward again* is ``scale(target, 0)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from bot.providers.ssh.transport import Session
from bot.providers.ssh.vm_release import hosts as runner
from bot.providers.ssh.vm_release.balancer import driver
from bot.providers.ssh.vm_release.options import Host, VmOptions
from bot.providers.ssh.vm_release.spec import SPEC
from bot.strategies.base import Check, Plan, Progress, Revision, RollbackError, Target, Verification

NOTHING = "Nothing was changed."


def _quiet(*args, **kwargs) -> None:
    return None


class VmRelease:
    name = SPEC.name
    steps = SPEC.steps
    pre_check_detail = "every host answers over SSH with a known host key; the target release is on each"

    @staticmethod
    def _read(o: VmOptions, host: Host, marker: bool = False) -> dict:
        """``{current, releases (newest first), before}`` of one host."""
        with Session(host.endpoint, o.access) as s:
            link = s.run(["readlink", o.current])
            listing = s.run(["ls", "-1t", o.release_dir])
            before = s.run(["readlink", runner.marker(o)]) if marker else None
        if not listing.ok:
            raise RollbackError(f"{host.name}: `ls -1t {o.release_dir}` failed ({listing.output}). {NOTHING}")
        return {
            "current": runner.release_of(link.output) if link.ok else "",
            "releases": [ln for ln in listing.output.splitlines() if ln.strip()],
            "before": runner.release_of(before.output) if before is not None and before.ok else "",
        }

    def _fleet(self, o: VmOptions, marker: bool = False) -> dict[str, dict]:
        return {h.name: self._read(o, h, marker) for h in o.hosts}

    @staticmethod
    def _revisions(service: str, releases: list[str]) -> list[Revision]:
        return [Revision(n, f"{service}:{r}", name=r) for n, r in enumerate(reversed(releases), start=1)]

    def history(self, target: Target) -> list[Revision]:
        o = VmOptions.of(target.options)
        return self._revisions(target.service, self._read(o, o.hosts[0])["releases"])

    def plan(self, target: Target) -> Plan:
        o = VmOptions.of(target.options)
        fleet = self._fleet(o)
        history = self._revisions(target.service, fleet[o.hosts[0].name]["releases"])
        by_name = {r.name: r for r in history}
        live = Counter(f["current"] for f in fleet.values()).most_common(1)[0][0]
        current = by_name.get(live) or Revision(0, f"{target.service}:{live or 'none'}", name=live)
        if target.to_revision is not None:
            desired = next((r for r in history if r.number == target.to_revision), None)
        else:
            desired = next((r for r in reversed(history) if r.number < current.number), None)
        if desired is None:
            raise RollbackError(
                f"{target.service}: no release to roll back to (releases on {o.hosts[0].name}: "
                f"{', '.join(r.name for r in history) or 'none'}). {NOTHING}"
            )
        missing = [h for h, f in fleet.items() if desired.name not in f["releases"]]
        if missing:
            raise RollbackError(
                f"release {desired.name} is missing on {', '.join(missing)} "
                f"({o.release_dir}/{desired.name} is not there). {NOTHING} Copy the release "
                "to those hosts, or choose one every host has."
            )
        moves = tuple({"host": h, "from": f["current"], "to": desired.name} for h, f in fleet.items())
        common = dict(
            strategy=self.name,
            target=target,
            current=current,
            desired=desired,
            guard=",".join(f"{m['host']}={m['from']}" for m in moves),
            operations=moves,
        )
        if all(m["from"] == desired.name for m in moves):
            return Plan(**common, skipped=f"already at {desired.name} on every host")
        lines = tuple(
            f"{m['host']}: {m['from']} → {m['to']} (drain, `ln -sfn`, `systemctl restart {o.unit}`, health UP, back in)"
            if m["from"] != m["to"]
            else f"{m['host']}: already on {m['to']}"
            for m in moves
        )
        mixed = len({m["from"] for m in moves}) > 1
        warnings = ("the hosts run different releases now",) if mixed else ()
        return Plan(
            **common,
            changes=lines,
            warnings=warnings,
            summary=f"{sum(m['from'] != m['to'] for m in moves)} host(s) to {desired.name}, one at a time",
        )

    def target_print(self, plan: Plan) -> dict:
        return {}

    def is_applied(self, plan: Plan) -> bool:
        o = VmOptions.of(plan.target.options)
        return all(f["current"] == plan.desired.name for f in self._fleet(o).values())

    def roll(self, plan: Plan, report: runner.Report, progress: Callable[[Progress], None]) -> None:
        o = VmOptions.of(plan.target.options)
        runner.roll(o, driver(o.load_balancer), [dict(m) for m in plan.operations], report, progress)

    def apply(self, plan: Plan) -> None:
        if not plan.skipped:
            self.roll(plan, _quiet, _quiet)

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        progress(Progress("every host was checked UP as it was rolled", done=True))

    def verify(self, plan: Plan) -> Verification:
        o = VmOptions.of(plan.target.options)
        lb, checks = driver(o.load_balancer), []
        for host in o.hosts:
            with Session(host.endpoint, o.access) as s:
                release = runner.release_of(s.run(["readlink", o.current]).output)
                unit = s.run(["systemctl", "is-active", o.unit])
            status, _ = lb.state(host.server)
            ok = release == plan.desired.name and unit.ok and status == "UP"
            checks.append(
                Check(host.name, ok, f"on {release}, {o.unit} {unit.output or 'unknown'}, load balancer {status}")
            )
        return Verification(tuple(checks))

    def scale(self, target: Target, replicas: int) -> str:
        """*Roll those hosts forward again*: each host whose ``current.before-rollback`` names another release
        than it runs goes back to that one, host by host."""
        o = VmOptions.of(target.options)
        fleet = self._fleet(o, marker=True)
        moves = [
            {"host": h, "from": f["current"], "to": f["before"]}
            for h, f in fleet.items()
            if f["before"] and f["before"] != f["current"]
        ]
        if not moves:
            raise RollbackError(
                "no host was moved by a rollback (no host runs another release than the one it "
                "ran before): there is nothing to roll forward. " + NOTHING
            )
        lines: list[str] = []
        runner.roll(o, driver(o.load_balancer), moves, lambda kind, text, **_: lines.append(text), _quiet, forward=True)
        return "rolled forward: " + ", ".join(f"{m['host']} {m['from']} → {m['to']}" for m in moves)
