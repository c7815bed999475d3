"""What only some strategies can do, as small protocols a step asks for, never a strategy's name or attributes.

A strategy offers its capabilities with an optional ``capabilities()`` (its own object, or helpers it owns);
a step asks ``capability(strategy, Router)`` and gets the one that implements it, or None: the step is then
skipped, and the plan said why beforehand (``skip_reasons``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.strategies.base import Plan, Progress, Target


@runtime_checkable
class Router(Protocol):
    """Moves a share of the traffic between two releases: Istio route weights and a replica split (canary)
    now, an ALB's target group weights later."""

    def weight(self, target: Target) -> int:
        """The share (%) the release being left gets now."""

    def set_weight(self, target: Target, weight: int) -> None: ...

    def settle(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Until the new weight is served (pods scaled and ready, routes applied)."""

    def schedule(self, target: Target) -> tuple[tuple[int, ...], str]:
        """The weights to step down through, ending with 0 (``(0,)``: all at once), and the pause between the
        steps as a duration ("": the analysis interval): from the strategy's options."""


@dataclass(frozen=True)
class BackupRequest:
    """The backup a run takes before crossing migrations: the catalog's ``backup_job`` for this run."""

    service: str
    incident: str  # the incident's key: a resumed run finds the backup it started, a later run makes its own
    run_id: int
    declared: Any  # bot.strategies.options.BackupJob: image, command, namespace, deadline
    target: Target


@dataclass(frozen=True)
class BackupResult:
    name: str
    namespace: str  # where it ran, in the provider's words
    succeeded: bool
    detail: str  # what happened, in words, for the run's step and the timeline
    logs_hint: str  # where its logs are (`kubectl logs job/<name> -n <ns>`)
    size: str = ""  # how big it is, where the provider says ("20 GiB"), for the timeline and the postmortem
    seconds: float | None = None  # how long it took


@runtime_checkable
class Backup(Protocol):
    """Takes a backup and waits for it: a Kubernetes Job now, an RDS snapshot later."""

    def describe(self, request: BackupRequest) -> str:
        """The plan's line: what will run, where, for how long at most, and what a failure does."""

    def title(self, request: BackupRequest) -> str:
        """The run step's name for it (``backup job rollback-backup-...``)."""

    def take(self, request: BackupRequest, progress: Callable[[Progress], None]) -> BackupResult: ...


@runtime_checkable
class SyncOwner(Protocol):
    """The controller object that puts back what Git says (an Argo CD Application, a Flux Kustomization)."""

    kind: str
    name: str
    namespace: str
    title: str


@runtime_checkable
class SyncGuard(Protocol):
    """Keeps a GitOps controller from syncing the bad release back: Argo CD's automated sync, Flux's
    reconciliation. ``owner``, then ``state`` (recorded before ``suspend``, so ``resume`` puts back exactly
    what was there)."""

    def owner(self, target: Target) -> SyncOwner | None:
        """The object syncing ``target``, or None when no controller manages it."""

    def state(self, owner: SyncOwner) -> dict: ...

    def describe(self, owner: SyncOwner, state: dict) -> str:
        """``state`` in words (``automated sync on (prune, selfHeal)``), for the timeline."""

    def suspend(self, owner: SyncOwner, state: dict) -> None: ...

    def resume(self, owner: SyncOwner, saved: dict) -> None: ...


@runtime_checkable
class AfterVerify(Protocol):
    """Runs once the switch succeeded and was verified (or could not be), such as a CDN invalidation
    (CloudFront), so users see the release traffic is on. Given by the runtime for a service (``cdn:``), whatever
    its strategy: the run's "invalidate cache" step (``bot.steps.cdn``)."""

    title: str  # the step's words: "CloudFront invalidation of E2QWRUHAPOMQZL (/*)"

    def after_verify(self, plan: Plan, reference: str, progress: Callable[[Progress], None]) -> str:
        """What was done, in words, for the run's step and the timeline; ``reference`` is the run's own (a
        resumed run does not do it twice). RollbackError, in words, when it failed or outlasted its deadline."""


C = TypeVar("C")

# The step that needs each capability, and what the plan and the skipped step say when a strategy has none.
NEEDED_BY: dict[str, tuple[type, str]] = {
    "suspend sync": (SyncGuard, "no GitOps controller manages this"),
    "backup": (Backup, "this strategy cannot take a backup"),
    "step down": (Router, "this strategy cannot move traffic by weight"),
}


def capability(strategy: object, kind: type[C]) -> C | None:
    """The strategy's implementation of ``kind`` (a protocol of this module), or None when it has none."""
    offered = getattr(strategy, "capabilities", None)
    for found in offered() if offered else ():
        if isinstance(found, kind):
            return found
    return None


def skip_reason(strategy: object, step: str) -> str:
    """Why ``step`` is skipped for ``strategy`` ("" when it can do it, or the step needs no capability)."""
    needed = NEEDED_BY.get(step)
    if needed is None or capability(strategy, needed[0]) is not None:
        return ""
    return needed[1]


def skip_reasons(strategy: Any, steps: Iterable[str] | None = None) -> tuple[str, ...]:
    """``"suspend sync: no GitOps controller manages this"``, one per step of the strategy it cannot do."""
    return tuple(f"{s}: {why}" for s in steps or strategy.steps if (why := skip_reason(strategy, s)))
