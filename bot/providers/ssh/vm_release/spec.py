"""The ``vm-release`` strategy's spec: hosts over SSH, one at a time behind the load balancer."""

from __future__ import annotations

from typing import Any

from bot.providers.ssh.vm_release.options import VmOptions
from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, Emergency, StrategySpec

HOST_BY_HOST = "host by host"


def _build(ctx: BuildContext) -> Strategy:
    from bot.providers.ssh.vm_release.strategy import VmRelease  # paramiko only when a VM service is used

    return VmRelease()


def _locate(service: Any) -> dict[str, str]:
    o: VmOptions = service.options
    return {"hosts": ", ".join(h.name for h in o.hosts), "current": o.current, "unit": o.unit}


SPEC = StrategySpec(
    name="vm-release",
    provider="ssh",
    build=_build,
    options=VmOptions,
    steps=("pre-checks", HOST_BY_HOST, "verify"),
    extra_steps={HOST_BY_HOST: "bot.providers.ssh.vm_release.steps:host_by_host"},
    emergency=Emergency(
        None,
        "",
        "Roll those hosts forward again",
        "Every host the rollback moved goes back to the release it ran before (drained, relinked, restarted, "
        "checked UP, put back in), one at a time. Hosts it did not move are left alone.",
    ),
    locate=_locate,
    check_by_hand="`readlink {current}` and `systemctl status {unit}` on each host ({hosts})",
    rank=60,
    description="VM hosts back to an earlier release directory, one at a time behind the load balancer",
)
