"""Messages outside the card: the announcement, status updates, help, history, errors, and the
plain ``text`` that notifications show for a message."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from bot.signals.severity import DECLARATION_FLAGS, Severity
from bot.slack.views.blocks import (
    SECTION_TEXT,
    _context,
    _finish,
    _header,
    _lines,
    _section,
    channel,
    clip,
    date,
    escape,
    user,
)
from bot.slack.views.card import status_blocks
from bot.slack.views.failure import verification_blocks
from bot.slack.views.incident import CardInfo, _revision_text, roles_text, severity_line, state_sentence
from bot.state.config_versions import ConfigHistory
from bot.strategies.base import Plan, Progress, Revision, Verification

_EMOJI = re.compile(r":[a-z][a-z0-9_+-]*: ?")


def announcement(info: CardInfo) -> list[dict]:
    """For the announcements channel: severity, where it stands, and where to follow along."""
    sev = f" — {severity_line(info.assessment.severity)}" if info.assessment else ""
    reason = f"\n*Reason:* {escape(clip(info.reason, 300))}" if info.reason else ""
    return [
        _section(
            f":rotating_light: *{escape(info.incident_key)} · {escape(info.service)}*{sev}\n"
            f"{state_sentence(info)}{reason}"
        ),
        _context(
            f"Declared by {user(info.declared_by)} · {roles_text(info)} · follow along in {channel(info.channel_id)}"
        ),
    ]


def private_announcement(incident_key: str, service: str, severity: Severity | None) -> list[dict]:
    """For the announcements channel when the incident is private: that it exists and how bad, nothing else
    (no reason, no channel link, no updates, no resolution)."""
    sev = f"severity *{severity.label}*" if severity else "severity not yet assessed"
    return [
        _section(f":lock: A private incident was declared for *{escape(service)}*, {sev} ({escape(incident_key)})."),
        _context("Its channel is private and its updates stay there. Ask the service's owners if you need to help."),
    ]


def status_reply(shown: Sequence[CardInfo], unchecked: int) -> list[dict]:
    """``/rollback status``: the incidents this person may see, and how many private ones could not be checked
    (Slack did not answer whether they are in the channel, so those are left out)."""
    if not unchecked:
        return status_blocks(shown)
    note = _context(
        f":lock: {unchecked} private incident(s) could not be checked: Slack did not tell me whether you are in "
        "their channel, so they are not listed. Try again in a minute; if you should be working one, ask its "
        "service owners to invite you."
    )
    if not shown:
        return [_section("No open incident that I can show you."), note]
    return [*status_blocks(shown), note]


def status_update_blocks(rendered: str) -> list[dict]:
    """A stakeholder update rendered by ``bot.reports.render_status_update`` (already escaped)."""
    chunks = [rendered[i : i + SECTION_TEXT] for i in range(0, len(rendered), SECTION_TEXT)] or [" "]
    return _finish([_section(c) for c in chunks])


HELP = (
    ("/rollback <service> [reason]", "declare an incident and see what a rollback would do"),
    ("/rollback", "alone: pick the service from a list"),
    ("/rollback status", "the open incidents"),
    ("/rollback history <service>", "the rollout history of a service"),
    ("/rollback config <service>", "the recorded versions of a service's ConfigMaps and Secrets, with what changed"),
    ("/rollback update", "post a status update (in the incident channel)"),
    ("/rollback lead @someone", "make them the incident lead (in the incident channel)"),
    ("/rollback comms @someone", "make them the communications lead: update reminders go to them"),
    ("/rollback page [situation]", "the escalation matrix, or page that situation (in the incident channel)"),
    ("/rollback note <text>", "add a note to the timeline; a :pushpin: on a message adds the message"),
    ("/rollback resolve", "resolve the incident and write the postmortem (in the incident channel)"),
    ("/rollback help", "this help"),
)


def help_blocks() -> list[dict]:
    return [
        _header("Rollback bot"),
        _section("\n".join(f"`{escape(cmd)}` — {what}" for cmd, what in HELP)),
        _section(
            f"*Data loss or a security breach?* Add {DECLARATION_FLAGS} when declaring, e.g. "
            "`/rollback shopping-service orders lost --data-loss`. Metrics can't tell these, so only you can: "
            "the incident becomes Critical (roll back immediately)."
        ),
        _context(
            "Nothing changes without a plan preview and your confirmation. "
            "Each incident gets its own channel; stakeholders can follow there."
        ),
    ]


def history_blocks(
    service: str, revisions: Sequence[Revision], now: dt.datetime | None = None, schemas: dict[str, str] | None = None
) -> list[dict]:
    """Newest first; the highest revision is the live one. ``schemas``: image -> the schema it ran on ("schema
    V12"), for a service with a ``database:`` (a release without one recorded: "schema unknown")."""
    if not revisions:
        return [
            _section(
                f"No rollout history found for *{escape(service)}*. Check the service name with "
                "`/rollback status`, or ask the owners whether it is deployed."
            )
        ]
    ordered = sorted(revisions, key=lambda r: -r.number)
    lines = [
        _revision_text(r, now) + _ran_on(r, schemas) + ("  *← live*" if i == 0 else "") for i, r in enumerate(ordered)
    ]
    return [
        _header(f"Rollout history · {service}"),
        _section(_lines(lines, bullet="")),
        _context(
            f"To roll back: `/rollback {escape(service)} <reason>`. You will see the plan before anything changes."
        ),
    ]


def _ran_on(revision: Revision, schemas: dict[str, str] | None) -> str:
    return "" if schemas is None else f" · {escape(schemas.get(revision.image, 'schema unknown'))}"


MAX_VERSIONS_SHOWN = 8  # per object, newest first


def config_history_blocks(
    service: str, histories: Sequence[ConfigHistory], strategy: str, restorers: Sequence[str] = ("config",)
) -> list[dict]:
    """``/rollback config``: per ConfigMap and Secret, its versions newest first with what changed (a Secret:
    key names only; its values are never stored or shown). ``restorers``: the strategies that restore a
    recorded version (``StrategySpec.restores_config``), which the advice at the end names."""
    if not histories:
        return [
            _section(
                f"*{escape(service)}* reads no ConfigMap or Secret that I can see: its catalog entry names none "
                "and its pod template references none. Nothing to list."
            )
        ]
    blocks = [_header(f"Config versions · {service}")]
    for h in histories:
        lines = []
        for i, e in enumerate(reversed(h.entries[-MAX_VERSIONS_SHOWN:])):
            by = f" by `{escape(e.changed_by)}`" if e.changed_by else ""
            live = "  *← live*" if i == 0 else ""
            first = "first recorded" if e.number == 1 else ""
            shown = [escape(clip(c, 200)) for c in e.changes[:6]] + (["…"] if len(e.changes) > 6 else [])
            body = first if e.number == 1 else "\n".join(f"   {c}" for c in shown)
            changed = date(e.changed_at, "{date_num} {time}", "%Y-%m-%d %H:%M UTC")
            lines.append(f"*v{e.number}* · {changed}{by}{live}\n{body}".rstrip())
        older = len(h.entries) - MAX_VERSIONS_SHOWN
        note = f"\n_{older} older version(s) not shown_" if older > 0 else ""
        if h.untracked:
            lines, note = [escape(h.untracked)], ""
        secret = " (key names only: values are never stored or shown)" if h.kind == "Secret" else ""
        blocks.append(_section(clip(f"*{h.kind} {escape(h.name)}*{secret}\n" + "\n".join(lines) + note, 2900)))
    how = (
        f"To restore an earlier version: `/rollback {escape(service)} <reason>`, then *Choose revision…*; "
        "the plan shows every change before anything is written."
        if strategy in restorers
        else f"{escape(service)} rolls back with the `{escape(strategy)}` strategy; to restore a ConfigMap by "
        f"itself, give it `strategy: {escape(restorers[0] if restorers else 'config')}` in the services catalog."
    )
    blocks.append(_context(f"Versions are recorded from the moment the bot watches them. {how}"))
    return _finish(blocks)


def error_blocks(title: str, what_happened: str, what_next: str) -> list[dict]:
    """A polite ephemeral error: what went wrong and what to do instead (all text is escaped)."""
    return [
        _section(
            f":warning: *{escape(clip(title, 200))}*\n{escape(clip(what_happened, 1500))}\n"
            f"*What you can do:* {escape(clip(what_next, 1000))}"
        )
    ]


def fallback_text(subject: CardInfo | Plan | Progress | Verification | str) -> str:
    """The ``text`` that notifications show for a message built from ``subject`` (a str: an error title)."""
    if isinstance(subject, CardInfo):
        sev = f" ({subject.assessment.severity.label})" if subject.assessment else ""
        text = f"{subject.incident_key} · {subject.service}{sev}: {state_sentence(subject)}"
    elif isinstance(subject, Plan):
        desired = f"{subject.desired.title} ({subject.desired.version})" if subject.desired else "?"
        text = (
            f"Nothing to do for {subject.target.service}: {subject.skipped}"
            if subject.skipped
            else f"Rollback plan for {subject.target.service}: {subject.current.title} "
            f"({subject.current.version}) -> {desired}. Nothing has changed yet; confirm to proceed."
        )
    elif isinstance(subject, Progress):
        text = subject.message
    elif isinstance(subject, Verification):
        text = "Verification passed" if subject.ok else "VERIFICATION FAILED: the service is still unhealthy"
    else:
        text = str(subject)
    return clip(_EMOJI.sub("", escape(text)).replace("`", "").strip(), SECTION_TEXT)


def could_not_verify_message(
    service: str,
    check_by_hand: str,
    health_url: str | None,
    version: str,
    reason: str,
    verification: Verification,
) -> tuple[str, list[dict]]:
    """(text, blocks) for the channel when the rollback went out but its health could not be read."""
    url = escape(health_url) if health_url else "(none in the services catalog)"
    text = (
        f":warning: *{escape(service)} is back on {escape(version)}, but I could NOT verify that it is "
        f"healthy:* {escape(clip(reason, 500))}.\n"
        "*Check by hand:* its dashboards (5xx rate and p95 latency since the rollback), "
        + (f"{escape(check_by_hand)}, " if check_by_hand else "")
        + f"and the health URL {url}.\n"
        "*Next:* nothing happens automatically. When it looks healthy, type `/rollback resolve` here; "
        "if it does not, choose another revision or click *Page escalation* on the card."
    )
    return text, verification_blocks(verification)
