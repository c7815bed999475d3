"""The one interface every rollback strategy implements, and the values it passes around.

``plan()`` has no side effects and is shown to the user before anything changes;
``apply()`` makes the change, ``wait()`` follows it and reports progress; ``verify()``
checks what the strategy itself can see (pods ready, endpoints present).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol


@dataclass(frozen=True)
class Revision:
    """One entry of a workload's rollout history."""

    number: int
    image: str
    change_cause: str = ""
    created_at: dt.datetime | None = None
    name: str = ""  # the ReplicaSet (or task definition, ...) that holds it
    label: str = ""  # how people name it when a number means little ("blue", "stable")

    @property
    def title(self) -> str:
        """``rev 4``, or the label (``blue``) for strategies whose "revisions" are colours or tracks."""
        return self.label or f"rev {self.number}"

    @property
    def words(self) -> str:
        """``v1.2.4 (revision 4)``, or ``blue (v2.0.1)`` for a colour or a track."""
        return f"{self.label} ({self.version})" if self.label else f"{self.version} (revision {self.number})"

    @property
    def version(self) -> str:
        """The image tag (``v1.2.4``), or the whole image when it has none."""
        tail = self.image.rsplit("/", 1)[-1]
        return tail.split(":", 1)[1] if ":" in tail else self.image


@dataclass(frozen=True)
class Target:
    """What to roll back, and to which revision (``None``: the previous one).

    ``locator`` says where it runs in its provider's words, read only by that provider's code: on Kubernetes
    ``{"namespace", "workload", "container"}`` (``bot.providers.kubernetes.locator``), an ECS service or a host
    and a path elsewhere.
    """

    service: str
    locator: dict
    to_revision: int | None = None
    options: dict = field(default_factory=dict)  # the strategy's own catalog block (blue_green, canary)
    env_only: bool = False  # revert only the containers' env to the revision's, keep the live image


@dataclass(frozen=True)
class Plan:
    """A dry run: what will change, shown to the user before any change is made."""

    strategy: str
    target: Target
    current: Revision
    desired: Revision | None
    changes: tuple[str, ...] = ()  # human-readable lines, one per change
    warnings: tuple[str, ...] = ()  # e.g. a DB migration between the revisions
    skipped: str | None = None  # e.g. "already at revision 4": nothing to do
    guard: str = ""  # resourceVersion (or equivalent) the plan was made against
    operations: tuple[dict, ...] = field(default=(), compare=False)  # the exact patch
    summary: str = ""  # the change in a few words, for the run's step ("switch storefront to blue")
    env_only_offer: bool = False  # the target differs from live in env too: an env-only plan can be offered
    # what the change moves to, as the strategy's ``target_print`` read it when the plan was made ({}: nothing
    # to pin); the run's pre-checks read it again and stop when it changed after Confirm
    target_print: dict = field(default_factory=dict, compare=False)
    skips: tuple[str, ...] = ()  # the run's steps this strategy cannot do here, each with why ("suspend sync: ...")
    half_done: bool = False  # it finishes a change left half done (a split switch): it may be finished either way


@dataclass(frozen=True)
class Progress:
    """A point on the way: shown on the incident card and recorded on the timeline."""

    message: str  # "2/3 new replicas available"
    desired: int = 0
    updated: int = 0
    available: int = 0
    done: bool = False


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: could not be checked
    detail: str = ""


@dataclass(frozen=True)
class Verification:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks) and any(c.ok for c in self.checks)


class RollbackError(Exception):
    """A rollback could not be planned or applied; the message is shown to the user as is."""


class ReleaseLive(RollbackError):
    """The release a *Delete* button names serves traffic again (or runs another image): nothing is deleted."""


class ConcurrentChange(RollbackError):
    """The workload changed between plan and execute (resourceVersion guard)."""


RUN_STEPS = ("pre-checks", "backup", "suspend sync", "rollback", "wait for rollout", "verify")


class Strategy(Protocol):
    """What every strategy does. What only some can do (move traffic by weight, suspend GitOps sync, take a
    backup) is a capability (``bot.strategies.capabilities``), offered by an optional ``capabilities()``."""

    name: str
    steps: tuple[str, ...]  # the run's steps, in order; the worker has one function per step name
    # optional ``pre_check_detail``: what the pre-checks found, in words, when it says more than "<the revision>
    # is there" (a Deployment: "target exists, deployment not paused")

    def history(self, target: Target) -> list[Revision]: ...

    def plan(self, target: Target) -> Plan: ...

    def target_print(self, plan: Plan) -> dict:
        """What the plan moves traffic (or the workload) to, read live: its image(s) and a hash of its pod
        template (``{}``: nothing that can change under the plan). The pre-checks compare it with the plan's."""

    def is_applied(self, plan: Plan) -> bool:
        """Whether the live workload already runs what the plan restores (the whole template, not only
        the image): a resumed run must not apply it twice."""

    def apply(self, plan: Plan) -> object:
        """Make the change (one request, never retried blindly; guarded against concurrent edits)."""

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Until the change has rolled out; RollbackError when it fails or time runs out."""

    def verify(self, plan: Plan) -> Verification: ...

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency action: scale the workload (to zero) when a rollback cannot save it."""


def revision_to_json(rev: Revision | None) -> dict | None:
    if rev is None:
        return None
    return {
        "number": rev.number,
        "image": rev.image,
        "change_cause": rev.change_cause,
        "created_at": rev.created_at.isoformat() if rev.created_at else None,
        "name": rev.name,
        "label": rev.label,
    }


def revision_from_json(data: dict | None) -> Revision | None:
    if not data:
        return None
    created = data.get("created_at")
    return Revision(
        number=data["number"],
        image=data["image"],
        change_cause=data.get("change_cause", ""),
        created_at=dt.datetime.fromisoformat(created) if created else None,
        name=data.get("name", ""),
        label=data.get("label", ""),
    )


def plan_to_json(plan: Plan) -> dict:
    """A plan as stored on the timeline and in a run, so a resumed run sees what the user confirmed."""
    return {
        "strategy": plan.strategy,
        "target": {**vars(plan.target), "locator": dict(plan.target.locator)},
        "current": revision_to_json(plan.current),
        "desired": revision_to_json(plan.desired),
        "changes": list(plan.changes),
        "warnings": list(plan.warnings),
        "skipped": plan.skipped,
        "guard": plan.guard,
        "operations": list(plan.operations),
        "summary": plan.summary,
        "env_only_offer": plan.env_only_offer,
        "target_print": plan.target_print,
        "skips": list(plan.skips),
        "half_done": plan.half_done,
    }


def plan_from_json(data: dict) -> Plan:
    current = revision_from_json(data["current"])
    assert current is not None
    return Plan(
        strategy=data["strategy"],
        target=target_from_json(data["target"]),
        current=current,
        desired=revision_from_json(data.get("desired")),
        changes=tuple(data.get("changes", ())),
        warnings=tuple(data.get("warnings", ())),
        skipped=data.get("skipped"),
        guard=data.get("guard", ""),
        operations=tuple(data.get("operations", ())),
        summary=data.get("summary", ""),
        env_only_offer=data.get("env_only_offer", False),
        target_print=data.get("target_print") or {},
        skips=tuple(data.get("skips", ())),
        half_done=data.get("half_done", False),
    )


def target_from_json(data: dict) -> Target:
    """A stored target; one stored before targets had a locator (namespace, workload and container as its
    own keys) is read as the Kubernetes locator it was."""
    data = dict(data)
    if "locator" not in data:
        data["locator"] = {k: data.pop(k, "") for k in ("namespace", "workload", "container")}
    return Target(**data)


def planned(strategy: Strategy, target: Target) -> Plan:
    """The strategy's plan with the print of what it moves to, as shown to the user and checked by the run."""
    plan = strategy.plan(target)
    if plan.skipped or plan.desired is None:
        return plan
    return replace(plan, target_print=strategy.target_print(plan))
