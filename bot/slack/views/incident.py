"""An incident as the views see it, and the words every surface uses for it.

The card, the announcement, ``/rollback status`` and notifications all say where an incident
stands with ``state_sentence``, so they never disagree; the card's two halves (``card``,
``failure``) share the run's steps and the revision select from here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from slack_sdk.models.blocks import StaticSelectElement

from bot.signals.severity import Assessment, Severity, SignalReading, format_threshold, format_value
from bot.slack.views.blocks import (
    MAX_OPTIONS,
    OPTION_TEXT,
    ActionId,
    _lines,
    _option,
    _plain,
    ago,
    clip,
    encode_value,
    escape,
    user,
)
from bot.strategies.base import Revision, Verification


class Step(NamedTuple):
    name: str  # "Pre-checks"
    status: str  # pending | running | done | failed | skipped
    detail: str = ""


@dataclass(frozen=True)
class RunInfo:
    """A rollback run as the card shows it.

    ``status`` is the run's (bot.state.states.RunStatus): pending, running, verified,
    verification_failed, could_not_verify, failed, cancelled, expired.
    """

    status: str
    requested_by: str  # Slack user id
    steps: tuple[Step, ...] = ()
    progress_message: str = ""
    to_revision: Revision | None = None
    verification: Verification | None = None
    error: str = ""
    run_id: int | None = None
    strategy: str = "kubernetes"
    controls: tuple[str, ...] = ()  # buttons for a person's hand on it: "hold", "resume", "zero"
    queued_behind: int = 0  # while pending: the rollbacks ahead of it (running, or queued before it)


@dataclass(frozen=True)
class Countdown:
    """An automatic rollback waiting out its grace period (the card shows it with its *Hold*)."""

    plan_id: int
    to_words: str  # "v1.2.4 (revision 2)"
    seconds_left: float  # as of the last 10 s step (the card changes at most every 10 s)


@dataclass(frozen=True)
class StatusPageInfo:
    """What the service's status page component says now, as the bot last set or read it."""

    status: str = ""  # a Statuspage status (operational, degraded_performance, ...); "" not set yet
    error: str = ""  # why the last change failed
    set_by: str = ""  # "bot", a Slack user id


@dataclass(frozen=True)
class CardInfo:
    """An incident as the card, the announcement and ``/rollback status`` show it.

    ``status``: open (deciding) | forward_fix | mitigated | resolved | dismissed; a run, when
    present and not cancelled, decides the card's lower part.
    """

    incident_key: str
    service: str
    namespace: str
    status: str
    reason: str
    declared_by: str  # Slack user id
    lead: str  # Slack user id, or ""
    created_at: dt.datetime
    current: Revision | None
    target: Revision | None
    assessment: Assessment | None
    run: RunInfo | None = None
    history: tuple[Revision, ...] = ()  # for "Choose revision…"
    channel_id: str = ""  # the incident channel
    check_by_hand: str = ""  # the command that shows the rollout, in its provider's words (the strategy's spec)
    comms: str = ""  # the communications lead's Slack user id, or ""
    decide_by: dt.datetime | None = None  # while undecided: the severity's decision deadline
    countdown: Countdown | None = None  # an automatic rollback's grace period, while it runs
    status_page: StatusPageInfo | None = None  # None: the service has no status page component


def roles_text(info: CardInfo) -> str:
    """``lead @carol · comms @dave`` (the comms lead only once there is one)."""
    comms = f" · comms {user(info.comms)}" if info.comms else ""
    return f"lead {user(info.lead)}{comms}"


# ---------------------------------------------------------------- severity and signals


def severity_line(severity: Severity) -> str:
    """``:large_orange_circle: *High* · Decide within 10 minutes``; adds the deadline if guidance lacks it."""
    line = f"{severity.emoji} *{severity.label}* · {severity.guidance}"
    minutes = severity.decide_within_minutes
    if minutes and "within" not in severity.guidance.lower():
        line += f" · decide within {minutes} minutes"
    return line


def signal_text(reading: SignalReading) -> str:
    """``30.1% (threshold 25%)``, or ``unavailable`` (never a healthy-looking value)."""
    if reading.value is None:
        return "unavailable"
    return f"{format_value(reading)} (threshold {format_threshold(reading)})"


# ---------------------------------------------------------------- revisions and the run

_STEP_ICONS = {
    "pending": ":white_circle:",
    "running": ":hourglass_flowing_sand:",
    "done": ":white_check_mark:",
    "failed": ":x:",
    "skipped": ":heavy_minus_sign:",
}


def _revision_text(rev: Revision, now: dt.datetime | None) -> str:
    cause = f" · {escape(clip(rev.change_cause, 200))}" if rev.change_cause else ""
    return (
        f"{rev.title} · `{escape(clip(rev.version, 100))}`{cause} · deployed {ago(rev.created_at, now)}"
    )


def revision_option_text(rev: Revision) -> str:
    """``rev 2 · v1.2.4 · deploy v1.2.4: faster cart totals`` (clipped to an option's 75 characters)."""
    return clip(" · ".join(p for p in (rev.title, rev.version, rev.change_cause) if p), OPTION_TEXT)


def _run_phase(run: RunInfo | None) -> str:
    """none | active | verified | verification_failed | could_not_verify | failed (the run's own status)."""
    if run is None or run.status in ("cancelled", "expired"):
        return "none"
    if run.status in ("pending", "running"):
        return "active"
    return run.status


def _to_version(info: CardInfo) -> str:
    rev = (info.run and info.run.to_revision) or info.target
    return f"{rev.title} · `{escape(rev.version)}`" if rev else "the previous revision"


def state_sentence(info: CardInfo) -> str:
    """One line: where the incident stands (card, announcement, ``/rollback status``, notifications)."""
    phase = _run_phase(info.run)
    if info.status == "resolved":
        return ":white_check_mark: Resolved."
    if info.status == "dismissed":
        return "Dismissed: no rollback was needed."
    if phase == "active":
        return f":arrows_counterclockwise: Rolling back to {_to_version(info)}."
    if phase == "verified":
        return f":white_check_mark: Rolled back to {_to_version(info)}; verification passed. Monitoring."
    if phase == "could_not_verify":
        return f":warning: Rolled back to {_to_version(info)}, but I could NOT verify it: check it by hand."
    if phase == "verification_failed":
        return ":rotating_light: Rolled back, but verification FAILED: the service is still unhealthy."
    if phase == "failed":
        return ":rotating_light: The rollback FAILED: the service is still unhealthy."
    if info.status == "forward_fix":
        return ":wrench: Fixing forward (no rollback)."
    if info.status == "mitigated":
        return ":white_check_mark: Mitigated. Monitoring."
    return ":mag: On-call is deciding whether to roll back."


def _steps_text(run: RunInfo) -> str:
    lines = []
    for s in run.steps:
        detail = f" — {escape(clip(s.detail, 300))}" if s.detail else ""
        lines.append(f"{_STEP_ICONS.get(s.status, ':grey_question:')} *{escape(s.name)}*{detail}")
    return _lines(lines, bullet="")


def card_value(info: CardInfo, revision: int | None = None) -> str:
    """A card element's value: the incident, the revision it offers, and the run the card shows (0: none yet),
    so a click on a version of the card from before a later run changes nothing (``common.same_run``)."""
    return encode_value(info.incident_key, revision, info.run.run_id if info.run and info.run.run_id else 0)


def _revision_select(info: CardInfo, placeholder: str) -> list[dict]:
    """The select of every other revision in the rollout history (none when there is no other)."""
    current = info.current.number if info.current else None
    choices = sorted((r for r in info.history if r.number != current), key=lambda r: -r.number)[:MAX_OPTIONS]
    if not choices:
        return []
    options = [_option(revision_option_text(r), card_value(info, r.number)) for r in choices]
    select = StaticSelectElement(
        action_id=ActionId.CHOOSE_REVISION.value, placeholder=_plain(placeholder), options=options
    )
    return [select.to_dict()]
