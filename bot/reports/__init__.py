"""The postmortem and stakeholder status updates, rendered with Jinja2 from what the bot recorded.

Pure functions of plain values: the caller gathers the incident, its timeline and the
resolve form. Anything not recorded says "_Not recorded_" rather than being left blank,
so a reader can tell "nothing happened" from "nobody wrote it down".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import NamedTuple

import jinja2

from bot.signals.severity import Severity, SignalReading
from bot.slack import views as slack_views

NOT_RECORDED = "_Not recorded_"
# The timeline events that tell what a strategy did, for the postmortem's strategy section.
STRATEGY_EVENTS = frozenset(
    {
        "backup",
        "gitops_suspended",
        "gitops_resumed",
        "prepared",
        "patched",
        "rolled_out",
        "canary_step",
        "canary_hold",
        "canary_resume",
        "canary_zero",
        "canary_removed",
        "after_switch",
        "release_deleted",
        "verified",
        "verification_failed",
        "could_not_verify",
        "rollback_failed",
        "cdn_invalidated",
        "cdn_invalidation_failed",
    }
)


class Decision(NamedTuple):
    who: str
    what: str  # "Roll back to previous (rev 2)"
    when: dt.datetime | None


class ActionItem(NamedTuple):
    text: str
    owner: str  # display name
    due: dt.date | None
    done: bool = False


class Event(NamedTuple):
    at: dt.datetime
    kind: str  # declared | assessed | rollback_started | ...
    actor: str  # display name; "" for the bot
    text: str
    human: bool = False  # added by a person (/rollback note, a 📌 on a message): marked so in the postmortem


@dataclass(frozen=True)
class PostmortemInput:
    """Everything the postmortem says. People are display names (a file outlives Slack ids)."""

    incident_key: str
    service: str
    namespace: str
    severity: Severity | None = None
    status: str = ""
    declared_by: str = ""
    lead: str = ""
    comms: str = ""  # the communications lead
    acknowledgements: tuple[str, ...] = ()  # each escalation page: who acknowledged it after how long
    deployed_at: dt.datetime | None = None  # the bad release's rollout
    detected_at: dt.datetime | None = None  # the first breach
    detected_how: str = ""  # "alert HighErrorRate's startsAt", "Prometheus query_range: error_rate held 5m"
    declared_at: dt.datetime | None = None
    decision: Decision | None = None
    rollback_started_at: dt.datetime | None = None
    rollback_finished_at: dt.datetime | None = None
    mitigated_at: dt.datetime | None = None  # verified (or resolved with no rollback)
    resolved_at: dt.datetime | None = None
    from_version: str = ""
    to_version: str = ""
    strategy: str = ""
    root_cause: str = ""
    impact: str = ""
    lessons: str = ""
    action_items: tuple[ActionItem, ...] = ()
    events: tuple[Event, ...] = ()
    signals: tuple[SignalReading, ...] = ()  # as read at detection
    audit: tuple[Event, ...] = ()  # refused attempts (permission denied), for the appendix
    plan_changes: tuple[str, ...] = ()  # what the confirmed plan said it would change
    strategy_steps: tuple[Event, ...] = ()  # what the strategy did, step by step


@dataclass(frozen=True)
class StatusUpdateInput:
    """A stakeholder update; ``author`` is a Slack user id (the text is Slack mrkdwn)."""

    incident_key: str
    service: str
    status: str  # one of slack_views.UPDATE_STATUSES
    summary: str
    author: str
    posted_at: dt.datetime
    next_steps: str = ""
    next_update_at: dt.datetime | None = None
    severity: Severity | None = None
    channel_id: str = ""  # the incident channel, linked from the announcements channel
    lead: str = ""  # Slack user ids of the incident lead and the communications lead ("" when none)
    comms: str = ""


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def when(t: dt.datetime | None) -> str:
    return _utc(t).strftime("%Y-%m-%d %H:%M:%S UTC") if t else NOT_RECORDED


def duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """``4 min 12 s``, ``1 h 5 min``, ``42 s``; not recorded when either end is missing."""
    if start is None or end is None or _utc(end) < _utc(start):
        return NOT_RECORDED
    s = int((_utc(end) - _utc(start)).total_seconds())
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _cell(text: object) -> str:
    """Safe inside a markdown table cell: ``|`` escaped, newlines kept as ``<br>``."""
    return re.sub(r"\r?\n", "<br>", str(text).strip()).replace("|", r"\|") or " "


def _oneline(text: str) -> str:
    return " ".join(str(text).split())


def _person(name: str) -> str:
    return "@" + name.lstrip("@") if name else NOT_RECORDED


def _block(text: str) -> str:
    return text.strip() or NOT_RECORDED


@functools.cache
def _env() -> jinja2.Environment:
    """Templates ship in the ``templates`` package; markdown is not HTML, so no autoescape."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("templates", ""),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        cell=_cell,
        oneline=_oneline,
        person=_person,
        block=_block,
        mrkdwn=slack_views.escape,
        mention=slack_views.user,
        channel=slack_views.channel,
        slack_date=slack_views.date,
    )
    env.globals.update(duration=duration, NOT_RECORDED=NOT_RECORDED, signal_text=slack_views.signal_text)
    return env


def _timeline(events: tuple[Event, ...]) -> tuple[str, list[tuple[str, Event]]]:
    """The events in order with their time column: ``HH:MM:SS`` when they all fall on one day."""
    ordered = sorted(events, key=lambda e: _utc(e.at))
    days = {_utc(e.at).date() for e in ordered}
    fmt = "%H:%M:%S" if len(days) == 1 else "%Y-%m-%d %H:%M:%S"
    day = f"{next(iter(days))}, " if len(days) == 1 else ""
    return day, [(_utc(e.at).strftime(fmt), e) for e in ordered]


def render_postmortem(data: PostmortemInput) -> str:
    """Markdown: Summary, Impact, Root cause, Timeline, Lessons learned, Action items."""
    versions = (
        f"{data.from_version} -> {data.to_version} (rollback)"
        if data.from_version and data.to_version
        else NOT_RECORDED
    )
    decision = (
        f"{data.decision.what}, by {_person(data.decision.who)} at {when(data.decision.when)}"
        if data.decision
        else NOT_RECORDED
    )
    impact_start = data.detected_at or data.deployed_at or data.declared_at
    figures = (
        ("Time to detect (deploy → first breach)", duration(data.deployed_at, data.detected_at)),
        ("Time to decide (declaration → decision)", duration(data.declared_at, data.decision and data.decision.when)),
        ("Time to mitigate (first breach → mitigated)", duration(impact_start, data.mitigated_at)),
        ("Time to resolve (first breach → resolved)", duration(impact_start, data.resolved_at)),
    )
    day, rows = _timeline(data.events)
    return (
        _env()
        .get_template("postmortem.md.j2")
        .render(
            d=data,
            versions=versions,
            severity=data.severity.label if data.severity else NOT_RECORDED,
            decision=decision,
            figures=figures,
            timeline_day=day,
            timeline=rows,
            strategy_steps=_timeline(data.strategy_steps)[1],
        )
    )


def render_status_update(update: StatusUpdateInput) -> str:
    """Slack mrkdwn for the incident and announcements channels; user text is escaped."""
    return (
        _env()
        .get_template("status_update.md.j2")
        .render(
            u=update,
            severity=update.severity.label if update.severity else "",
        )
        .strip()
    )
