"""The one vocabulary of states, and the moves allowed between them.

The database, the worker and the card all use these words. Every move of an incident is a
conditional UPDATE on the state it is expected to be in (``bot.state.incidents.transition``),
so two replicas cannot both make the same move, and a closed incident never reopens.
"""

from __future__ import annotations

import enum


class IncidentStatus(enum.StrEnum):
    OPEN = "open"  # declared; deciding (also after a failed or unverified rollback)
    ROLLING_BACK = "rolling_back"  # a run is pending or running
    MITIGATED = "mitigated"  # rolled back and verified
    FORWARD_FIX = "forward_fix"  # the team chose to fix forward
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class RunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    VERIFIED = "verified"  # rolled out and the analysis passed
    VERIFICATION_FAILED = "verification_failed"  # rolled out, but the service is still unhealthy
    COULD_NOT_VERIFY = "could_not_verify"  # rolled out; Prometheus could not tell
    FAILED = "failed"  # the rollback itself failed (pre-checks, patch, rollout deadline)
    CANCELLED = "cancelled"  # its incident closed before it started
    EXPIRED = "expired"  # no worker started it in time


class PlanStatus(enum.StrEnum):
    SHOWN = "shown"  # posted with Confirm / Cancel
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"  # a newer plan was shown


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


_I = IncidentStatus  # short alias for the table below
CLOSED = frozenset({_I.RESOLVED, _I.DISMISSED})
OPEN = frozenset(IncidentStatus) - CLOSED
ACTIVE_RUN = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
FINAL_STEP = frozenset({StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED})

# What a person (or the worker) may do, and from which states. Anything else is refused.
MOVES: dict[str, tuple[frozenset[IncidentStatus], IncidentStatus]] = {
    "start_rollback": (frozenset({_I.OPEN, _I.MITIGATED, _I.FORWARD_FIX}), _I.ROLLING_BACK),
    "rollback_verified": (frozenset({_I.ROLLING_BACK}), _I.MITIGATED),
    "rollback_ended": (frozenset({_I.ROLLING_BACK}), _I.OPEN),  # failed, unverified, cancelled, expired
    "forward_fix": (frozenset({_I.OPEN, _I.MITIGATED}), _I.FORWARD_FIX),
    "dismiss": (frozenset({_I.OPEN, _I.FORWARD_FIX}), _I.DISMISSED),
    "resolve": (frozenset({_I.OPEN, _I.MITIGATED, _I.FORWARD_FIX}), _I.RESOLVED),
}

RUN_OUTCOME_MOVE = {
    RunStatus.VERIFIED: "rollback_verified",
    RunStatus.VERIFICATION_FAILED: "rollback_ended",
    RunStatus.COULD_NOT_VERIFY: "rollback_ended",
    RunStatus.FAILED: "rollback_ended",
    RunStatus.CANCELLED: "rollback_ended",
    RunStatus.EXPIRED: "rollback_ended",
}


def allowed_from(move: str) -> frozenset[IncidentStatus]:
    return MOVES[move][0]


def sql_in(column: str, values) -> str:
    """``status IN ('a', 'b')`` for CHECK constraints and partial indexes."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in sorted(values))})"
