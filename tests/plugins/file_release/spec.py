"""The spec: options, steps (one of its own), emergency actions; no Kubernetes, so no RBAC rules."""

from __future__ import annotations

from bot.strategies.base import Strategy
from bot.strategies.registry import BuildContext, Emergency, StrategySpec
from tests.plugins.file_release.options import FileReleaseOptions


def _build(ctx: BuildContext) -> Strategy:
    from tests.plugins.file_release.strategy import FileRelease

    return FileRelease()


SPEC = StrategySpec(
    name="file-release",
    provider="files",
    build=_build,
    options=FileReleaseOptions,
    steps=("pre-checks", "check release files", "rollback", "wait for rollout", "verify"),
    extra_steps={"check release files": "tests.plugins.file_release.steps:check_release_files"},
    emergency=Emergency(
        "Pin another release…",
        "point current at another release (*Pin another release…*)",
        "Take offline",
        "The `current` link of *{service}* is removed: the service is DOWN until someone links a release again.",
    ),
    description="point the current link back at an earlier release",
)
