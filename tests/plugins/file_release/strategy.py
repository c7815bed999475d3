"""``FileRelease``: the ``Strategy`` protocol on a release directory."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from bot.strategies.base import (
    Check,
    ConcurrentChange,
    Plan,
    Progress,
    Revision,
    RollbackError,
    Target,
    Verification,
)
from bot.strategies.options import from_options
from tests.plugins.file_release.options import FileReleaseOptions
from tests.plugins.file_release.spec import SPEC

OFFLINE = Revision(0, "offline", label="offline")


class FileRelease:
    name = SPEC.name
    steps = SPEC.steps

    @staticmethod
    def _root(target: Target) -> Path:
        return Path(from_options(FileReleaseOptions, target.options).root)

    def history(self, target: Target) -> list[Revision]:
        releases = sorted((self._root(target) / "releases").iterdir())
        return [
            Revision(n, f"{target.service}:{d.name}", change_cause=json.loads((d / "release.json").read_text())["note"],
                     name=d.name)
            for n, d in enumerate(releases, start=1)
        ]

    def _current(self, target: Target, history: list[Revision]) -> Revision:
        link = self._root(target) / "current"
        if not link.is_symlink():
            return OFFLINE
        live = Path(os.readlink(link)).name
        return next(r for r in history if r.name == live)

    def plan(self, target: Target) -> Plan:
        history = self.history(target)
        current = self._current(target, history)
        earlier = [r for r in history if r.number < current.number] or history[:1]
        wanted = target.to_revision or earlier[-1].number
        desired = next((r for r in history if r.number == wanted), None)
        if desired is None:
            raise RollbackError(f"{target.service} has no release number {wanted}; nothing was changed")
        common = dict(strategy=self.name, target=target, current=current, desired=desired, guard=current.name)
        if desired == current:
            return Plan(**common, skipped=f"already at {desired.version}")
        change = f"point current at releases/{desired.name} (was {current.name or 'offline'})"
        return Plan(**common, changes=(change,), summary=f"switch current to {desired.name}")

    def sync_owner(self, target: Target) -> None:
        return None

    def target_print(self, plan: Plan) -> dict:
        return {}

    def is_applied(self, plan: Plan) -> bool:
        return self._current(plan.target, self.history(plan.target)).name == plan.desired.name

    def check_files(self, plan: Plan) -> str:
        release = self._root(plan.target) / "releases" / plan.desired.name
        if not (release / "release.json").is_file():
            raise RollbackError(f"{release} has no release.json; nothing was changed")
        return f"{release.name} is complete"

    def apply(self, plan: Plan) -> None:
        root = self._root(plan.target)
        if self._current(plan.target, self.history(plan.target)).name != plan.guard:
            raise ConcurrentChange(f"current of {plan.target.service} moved after the plan was made")
        staged = root / "current.new"
        staged.unlink(missing_ok=True)
        staged.symlink_to(root / "releases" / plan.desired.name)
        staged.replace(root / "current")  # one rename: readers see the old release or the new one

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        live = self._current(target, self.history(target))
        progress(Progress(f"current → {live.name}", desired=1, updated=1, available=1, done=True))

    def verify(self, plan: Plan) -> Verification:
        live = self._current(plan.target, self.history(plan.target))
        ok = live.name == plan.desired.name
        return Verification((Check("current release", ok, f"current → {live.name or 'nothing'}"),))

    def scale(self, target: Target, replicas: int) -> None:
        if replicas:
            raise RollbackError("a file release can only be taken offline (0), not scaled")
        (self._root(target) / "current").unlink(missing_ok=True)
