"""Block Kit builders: pure functions from plain values to Slack JSON (lists of block dicts).

Every message is read on a phone at 3 a.m.: each one says what happened, what happens
next and what the reader can do. User-supplied text is escaped (``<!channel>`` in a
reason must not ping anyone) and clipped to Slack's limits, so a builder's output is
always accepted by ``chat.postMessage`` / ``views.open``. This module also parses the
modals' submitted values, so no other module needs to know Slack payload shapes.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from bot.incidents.parse import DECLARATION_FLAGS
from bot.signals.severity import (
    DECLARATIONS,
    Assessment,
    Severity,
    SignalReading,
    format_threshold,
    format_value,
)
from bot.strategies.base import Check, Plan, Progress, Revision, Verification

# Slack limits (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
OPTION_TEXT = 75
OPTION_VALUE = 150
MAX_OPTIONS = 100
MODAL_TITLE = 24
PRIVATE_METADATA = 3000
ACTION_ITEMS = 3  # action item rows in the resolve modal


class ActionId(enum.StrEnum):
    """``action_id`` of every interactive element the bot posts (handlers register on these)."""

    ROLLBACK_PREVIOUS = "rollback_previous"
    CHOOSE_REVISION = "choose_revision"  # static_select; the option value carries the revision
    CONFIRM_ROLLBACK = "confirm_rollback"
    CANCEL_ROLLBACK = "cancel_rollback"
    APPROVE_ROLLBACK = "approve_rollback"
    FORWARD_FIX = "forward_fix"
    DISMISS = "dismiss"
    RESOLVE = "resolve"
    SCALE_TO_ZERO = "scale_to_zero"
    PAGE_ESCALATION = "page_escalation"
    POST_UPDATE = "post_update"


class CallbackId(enum.StrEnum):
    """``callback_id`` of the modals; ``private_metadata`` holds the incident key (empty for DECLARE)."""

    DECLARE = "declare"
    RESOLVE = "resolve"
    STATUS_UPDATE = "status_update"


# Modal block ids (each input's action_id is the same string). Stable: handlers and tests rely on them.
DECLARE_SERVICE = "service"
DECLARE_REASON = "reason"
DECLARE_DECLARED = "declared"  # checkboxes: keys of DECLARATIONS
RESOLVE_ROOT_CAUSE = "root_cause"
RESOLVE_IMPACT = "impact"
RESOLVE_LESSONS = "lessons"


def action_item_block(n: int, part: str) -> str:
    """Block id of action item ``n`` (1-based): ``text``, ``owner`` (users_select) or ``due`` (datepicker)."""
    return f"action_{n}_{part}"


UPDATE_STATUS = "status"
UPDATE_SUMMARY = "summary"
UPDATE_NEXT = "next_steps"
UPDATE_NEXT_IN = "next_update_minutes"
UPDATE_STATUSES = ("Investigating", "Rolling back", "Monitoring", "Mitigated", "Resolved")


# ---------------------------------------------------------------- inputs


class Step(NamedTuple):
    name: str  # "Pre-checks"
    status: str  # pending | running | done | failed | skipped
    detail: str = ""


@dataclass(frozen=True)
class RunInfo:
    """A rollback run as the card shows it.

    ``status``: pending | running (in progress), succeeded, failed (could not be applied),
    verification_failed, cancelled. A succeeded run whose ``verification`` is not ok counts
    as verification_failed.
    """

    status: str
    requested_by: str  # Slack user id
    steps: tuple[Step, ...] = ()
    progress_message: str = ""
    to_revision: Revision | None = None
    verification: Verification | None = None
    error: str = ""


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


class ActionValue(NamedTuple):
    incident_key: str
    revision: int | None = None
    guard: str = ""


@dataclass(frozen=True)
class DeclareForm:
    service: str
    reason: str
    declared: tuple[str, ...] = ()  # keys of DECLARATIONS the person ticked


class ActionItemForm(NamedTuple):
    text: str
    owner: str  # Slack user id or ""
    due: dt.date | None


@dataclass(frozen=True)
class ResolveForm:
    root_cause: str
    impact: str
    lessons: str
    action_items: tuple[ActionItemForm, ...]
    errors: Mapping[str, str]  # block_id -> message, for ack(response_action="errors")


@dataclass(frozen=True)
class StatusUpdateForm:
    status: str
    summary: str
    next_steps: str
    next_update_minutes: int | None


# ---------------------------------------------------------------- text helpers

_USER_ID = re.compile(r"^[UW][A-Z0-9_]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_EMOJI = re.compile(r":[a-z][a-z0-9_+-]*: ?")
ELLIPSIS = "…"


def escape(text: object) -> str:
    """Escape user text for mrkdwn: no links, mentions or ``<!channel>`` can be smuggled in."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, never inside an ``&amp;`` entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:] and len(cut) - amp <= 5:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def user(user_id: str) -> str:
    """A mention for a real user id; anything else is shown as escaped text."""
    if not user_id:
        return "_nobody yet_"
    return f"<@{user_id}>" if _USER_ID.match(user_id) else escape(user_id)


def channel(channel_id: str) -> str:
    return (
        f"<#{channel_id}>" if _CHANNEL_ID.match(channel_id) else escape(channel_id or "the incident channel")
    )


def _utc(t: dt.datetime) -> dt.datetime:
    """Naive datetimes (SQLite) are UTC."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def ago(then: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``32 min ago``; ``unknown age`` when there is no timestamp."""
    if then is None:
        return "unknown age"
    seconds = (_utc(now or dt.datetime.now(dt.UTC)) - _utc(then)).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def _plain(text: str, limit: int = BUTTON_TEXT) -> dict:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def _mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(*texts: str) -> dict:
    return {"type": "context", "elements": [_mrkdwn(t, FIELD_TEXT) for t in texts[:10]]}


def _header(text: str) -> dict:
    return {"type": "header", "text": _plain(text, HEADER_TEXT)}


def _lines(items: Iterable[str], limit: int = SECTION_TEXT, bullet: str = "• ") -> str:
    """Bulleted lines that fit in ``limit``; the rest is counted, not silently dropped."""
    items = list(items)
    out: list[str] = []
    used = 0
    for i, item in enumerate(items):
        line = bullet + item
        more = f"\n…and {len(items) - i} more"
        if used + len(line) + 1 + len(more) > limit:
            out.append(more.strip())
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def encode_value(incident_key: str, revision: int | None = None, guard: str = "") -> str:
    """A short button/option value: ``INC-2026-001``, ``INC-2026-001|2`` or ``INC-2026-001|2|<guard>``."""
    parts = [incident_key] + ([str(revision)] if revision is not None or guard else [])
    return "|".join(parts + ([guard] if guard else []))


def decode_value(value: str) -> ActionValue:
    key, _, rest = (value or "").partition("|")
    rev, _, guard = rest.partition("|")
    return ActionValue(key, int(rev) if rev.isdigit() else None, guard)


def _button(
    text: str, action: ActionId, value: str, style: str | None = None, confirm: dict | None = None
) -> dict:
    b: dict[str, Any] = {"type": "button", "action_id": action.value, "text": _plain(text), "value": value}
    if style:
        b["style"] = style
    if confirm:
        b["confirm"] = confirm
    return b


def _confirm(title: str, text: str, yes: str, no: str, danger: bool = False) -> dict:
    c = {
        "title": _plain(title, 100),
        "text": _mrkdwn(text, 300),
        "confirm": _plain(yes, 30),
        "deny": _plain(no, 30),
    }
    if danger:
        c["style"] = "danger"
    return c


def _option(text: str, value: str) -> dict:
    return {"text": _plain(text, OPTION_TEXT), "value": value[:OPTION_VALUE]}


def _actions(*elements: dict) -> dict:
    return {"type": "actions", "elements": list(elements)}


def _finish(blocks: list[dict]) -> list[dict]:
    """Never more than Slack's 50 blocks: the tail is replaced by a note."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    return blocks[: MAX_BLOCKS - 1] + [_context(f"…{len(blocks) - MAX_BLOCKS + 1} more not shown")]


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


def _signal_field(reading: SignalReading) -> dict:
    icon = {True: " :warning:", False: " :white_check_mark:", None: " :grey_question:"}[
        None if reading.value is None else reading.breached
    ]
    return _mrkdwn(f"*{escape(reading.label)}*\n{escape(signal_text(reading))}{icon}", FIELD_TEXT)


# ---------------------------------------------------------------- incident card

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
        f"rev {rev.number} · `{escape(clip(rev.version, 100))}`{cause} · deployed {ago(rev.created_at, now)}"
    )


def revision_option_text(rev: Revision) -> str:
    """``rev 2 · v1.2.4 · deploy v1.2.4: faster cart totals`` (clipped to an option's 75 characters)."""
    return clip(" · ".join(p for p in (f"rev {rev.number}", rev.version, rev.change_cause) if p), OPTION_TEXT)


def _run_phase(run: RunInfo | None) -> str:
    """none | active | succeeded | failed | verification_failed."""
    if run is None or run.status == "cancelled":
        return "none"
    if run.status in ("pending", "running"):
        return "active"
    if run.status == "verification_failed" or (run.verification is not None and not run.verification.ok):
        return "verification_failed"
    return "succeeded" if run.status == "succeeded" else "failed"


def _to_version(info: CardInfo) -> str:
    rev = (info.run and info.run.to_revision) or info.target
    return f"rev {rev.number} · `{escape(rev.version)}`" if rev else "the previous revision"


def state_sentence(info: CardInfo) -> str:
    """One line: where the incident stands (card, announcement, ``/rollback status``, notifications)."""
    phase = _run_phase(info.run)
    if info.status == "resolved":
        return ":white_check_mark: Resolved."
    if info.status == "dismissed":
        return "Dismissed: no rollback was needed."
    if phase == "active":
        return f":arrows_counterclockwise: Rolling back to {_to_version(info)}."
    if phase == "succeeded":
        return f":white_check_mark: Rolled back to {_to_version(info)}; verification passed. Monitoring."
    if phase == "verification_failed":
        return ":rotating_light: Rolled back, but verification FAILED: the service is still unhealthy."
    if phase == "failed":
        return ":rotating_light: The rollback FAILED: the service is still unhealthy."
    if info.status == "forward_fix":
        return ":wrench: Fixing forward (no rollback)."
    if info.status == "mitigated":
        return ":white_check_mark: Mitigated. Monitoring."
    return ":mag: On-call is deciding whether to roll back."


def _card_top(info: CardInfo, now: dt.datetime | None) -> list[dict]:
    sev = info.assessment.severity if info.assessment else None
    lines = [
        severity_line(sev) if sev else ":grey_question: *Severity not assessed yet*",
        f"*Status:* {state_sentence(info)}",
    ]
    if info.reason:
        lines.append(f"*Reason:* {escape(clip(info.reason, 500))}")
    if info.assessment and info.assessment.reasons:
        lines.append("*Why this severity:* " + "; ".join(escape(r) for r in info.assessment.reasons))
    blocks = [
        _header(f"{info.incident_key} · {info.service}"),
        _section("\n".join(lines)),
        _context(
            f"Declared by {user(info.declared_by)} {ago(info.created_at, now)} · "
            f"lead {user(info.lead)} · namespace `{escape(info.namespace)}`"
        ),
    ]
    if info.assessment is None:
        blocks.append(_context(":grey_question: Signals not read yet."))
    elif info.assessment.signals:
        blocks.append(
            {"type": "section", "fields": [_signal_field(s) for s in info.assessment.signals[:MAX_FIELDS]]}
        )
    live = (
        _revision_text(info.current, now) if info.current else "unknown (could not read the rollout history)"
    )
    target = (
        _revision_text(info.target, now)
        if info.target
        else "none: there is no earlier revision in the rollout history"
    )
    blocks.append(_section(f"*Live now:* {live}\n*Rollback target:* {target}"))
    return blocks


def _steps_text(run: RunInfo) -> str:
    lines = []
    for s in run.steps:
        detail = f" — {escape(clip(s.detail, 300))}" if s.detail else ""
        lines.append(f"{_STEP_ICONS.get(s.status, ':grey_question:')} *{escape(s.name)}*{detail}")
    return _lines(lines, bullet="")


def _decision_blocks(info: CardInfo) -> list[dict]:
    key = info.incident_key
    buttons: list[dict] = []
    if info.target:
        buttons.append(
            _button(
                f"Roll back to previous (rev {info.target.number})",
                ActionId.ROLLBACK_PREVIOUS,
                encode_value(key, info.target.number),
                style="primary",
            )
        )
    current = info.current.number if info.current else None
    choices = sorted((r for r in info.history if r.number != current), key=lambda r: -r.number)[:MAX_OPTIONS]
    if choices:
        buttons.append(
            {
                "type": "static_select",
                "action_id": ActionId.CHOOSE_REVISION.value,
                "placeholder": _plain("Choose revision…"),
                "options": [_option(revision_option_text(r), encode_value(key, r.number)) for r in choices],
            }
        )
    buttons.append(_button("Forward fix", ActionId.FORWARD_FIX, key))
    buttons.append(
        _button(
            "Dismiss",
            ActionId.DISMISS,
            key,
            confirm=_confirm(
                "Dismiss this incident?",
                f"{escape(key)} will be closed without a rollback.",
                "Dismiss",
                "Keep it open",
            ),
        )
    )
    note = ""
    if info.run and info.run.status == "cancelled":
        note = "The last rollback was cancelled; nothing was changed. "
    return [
        _section(
            f"*What you can do:* {note}roll back, choose another revision, or fix forward. "
            "You will see the plan first: nothing changes until you confirm it."
        ),
        _actions(*buttons),
    ]


def _emergency_blocks(info: CardInfo, run: RunInfo) -> list[dict]:
    key = info.incident_key
    what = (
        "The rollback finished but verification FAILED"
        if _run_phase(run) == "verification_failed"
        else "The rollback FAILED"
    )
    error = f"\n*Error:* {escape(clip(run.error, 1000))}" if run.error else ""
    blocks = [_section(f":rotating_light: *{what}: {escape(info.service)} is still unhealthy.*{error}")]
    if run.steps:
        blocks.append(_section(_steps_text(run)))
    if run.verification:
        blocks += verification_blocks(run.verification)
    blocks.append(
        _section(
            "*What you can do now:* scale to zero to stop serving errors, "
            "or page the escalation contact. Nothing else will happen automatically."
        )
    )
    blocks.append(
        _actions(
            _button(
                "Scale to zero",
                ActionId.SCALE_TO_ZERO,
                key,
                style="danger",
                confirm=_confirm(
                    "Scale to zero?",
                    f"Every pod of *{escape(info.service)}* in `{escape(info.namespace)}` stops: "
                    "the service is DOWN until someone scales it back up.",
                    "Scale to zero",
                    "Keep running",
                    danger=True,
                ),
            ),
            _button("Page escalation", ActionId.PAGE_ESCALATION, key),
            _button("Post update", ActionId.POST_UPDATE, key),
        )
    )
    return blocks


def _lower_blocks(info: CardInfo) -> list[dict]:
    key, run, phase = info.incident_key, info.run, _run_phase(info.run)
    if info.status in ("resolved", "dismissed"):
        return [_section(f"{state_sentence(info)} This card takes no more actions.")]
    if run is not None and phase == "active":
        progress = (
            f"\n:hourglass_flowing_sand: {escape(run.progress_message)}" if run.progress_message else ""
        )
        return [
            _section(
                f"*Rolling back to {_to_version(info)}*, requested by {user(run.requested_by)}.{progress}"
            ),
            _section(_steps_text(run) or "Starting…"),
            _context(
                "Next: the bot waits for the rollout, then verifies health. This card updates "
                "itself; you don't need to do anything."
            ),
        ]
    if run is not None and phase in ("failed", "verification_failed"):
        return _emergency_blocks(info, run)
    if phase == "succeeded" or info.status in ("mitigated", "forward_fix"):
        blocks: list[dict] = []
        if run is not None and phase == "succeeded":
            blocks.append(
                _section(
                    f":white_check_mark: *Rolled back to {_to_version(info)}.* "
                    f"Requested by {user(run.requested_by)}.\n{_steps_text(run)}"
                )
            )
            if run.verification:
                blocks += verification_blocks(run.verification)
        else:
            blocks.append(_section(state_sentence(info)))
        buttons = [
            _button("Resolve", ActionId.RESOLVE, key, style="primary"),
            _button("Post update", ActionId.POST_UPDATE, key),
        ]
        if info.status == "forward_fix" and info.target:
            buttons.append(
                _button(
                    "Roll back after all", ActionId.ROLLBACK_PREVIOUS, encode_value(key, info.target.number)
                )
            )
        blocks.append(
            _section(
                "*Next:* watch the signals and post updates. When the service is stable, "
                "click *Resolve* to write the postmortem."
            )
        )
        return blocks + [_actions(*buttons)]
    return _decision_blocks(info)


def incident_card(info: CardInfo, now: dt.datetime | None = None) -> list[dict]:
    """The pinned card, updated in place: facts on top, the current state's actions below."""
    return _finish(_card_top(info, now) + [{"type": "divider"}] + _lower_blocks(info))


# ---------------------------------------------------------------- plan, progress, verification


def plan_confirmation(plan: Plan, requested_by: str, require_approval: bool, incident_key: str) -> list[dict]:
    """The dry run: what will change, then Confirm / Cancel (or Approve, for a second person)."""
    key = incident_key
    current = f"rev {plan.current.number} · `{escape(plan.current.version)}`"
    desired = f"rev {plan.desired.number} · `{escape(plan.desired.version)}`" if plan.desired else "?"
    blocks = [
        _section(
            f"*Rollback plan for {escape(plan.target.service)}* "
            f"(namespace `{escape(plan.target.namespace)}`, {escape(plan.strategy)})\n"
            f"{current} → {desired}"
        )
    ]
    if plan.skipped:
        blocks.append(
            _section(
                f":ballot_box_with_check: *Nothing to do: {escape(plan.skipped)}.*\n"
                "Nothing was changed. Choose another revision on the incident card, "
                "or fix forward."
            )
        )
        return blocks + [_actions(_button("Close", ActionId.CANCEL_ROLLBACK, key))]
    changes = _lines(escape(c) for c in plan.changes) or "• (no changes listed)"
    blocks.append(_section(f":information_source: *Nothing has changed yet.* This will:\n{changes}"))
    if plan.warnings:
        blocks.append(
            _section(":warning: *Before you confirm:*\n" + _lines(escape(w) for w in plan.warnings))
        )
    value = encode_value(key, plan.desired.number if plan.desired else None, plan.guard)
    cancel = _button("Cancel", ActionId.CANCEL_ROLLBACK, key)
    if require_approval:
        blocks.append(
            _context(
                f":busts_in_silhouette: This service needs a second person: {user(requested_by)} "
                "asked for this rollback; someone else must approve it."
            )
        )
        return blocks + [
            _actions(_button("Approve rollback", ActionId.APPROVE_ROLLBACK, value, style="primary"), cancel)
        ]
    blocks.append(
        _context(
            f"Requested by {user(requested_by)}. Nothing changes until you click "
            "*Confirm rollback*; the incident card then shows progress."
        )
    )
    return blocks + [
        _actions(_button("Confirm rollback", ActionId.CONFIRM_ROLLBACK, value, style="primary"), cancel)
    ]


def plan_decided(plan: Plan, requested_by: str, incident_key: str, outcome: str) -> list[dict]:
    """The plan message once someone confirmed or cancelled it: same facts, no buttons, who decided."""
    blocks = [b for b in plan_confirmation(plan, requested_by, False, incident_key) if b["type"] != "actions"]
    return _finish(blocks + [_context(outcome)])


def progress_text(progress: Progress) -> str:
    """``:hourglass_flowing_sand: 2/3 new replicas available`` (a tick once done)."""
    icon = ":white_check_mark:" if progress.done else ":hourglass_flowing_sand:"
    return clip(f"{icon} {escape(progress.message)}", SECTION_TEXT)


def _check_line(check: Check) -> str:
    icon, state = {
        True: (":white_check_mark:", ""),
        False: (":x:", " FAILED"),
        None: (":grey_question:", " could not be checked"),
    }[check.ok]
    detail = f" — {escape(clip(check.detail, 300))}" if check.detail else ""
    return f"{icon} *{escape(check.name)}*{state}{detail}"


def verification_blocks(verification: Verification) -> list[dict]:
    """Passed quietly, failed loudly; unchecked items are never shown as passed."""
    title = (
        ":white_check_mark: *Verification passed.*"
        if verification.ok
        else ":rotating_light: *VERIFICATION FAILED*"
    )
    return [
        _section(
            title + "\n" + _lines((_check_line(c) for c in verification.checks), SECTION_TEXT - 60, bullet="")
        )
    ]


# ---------------------------------------------------------------- other messages


def announcement(info: CardInfo) -> list[dict]:
    """For the announcements channel: severity, where it stands, and where to follow along."""
    sev = f" — {severity_line(info.assessment.severity)}" if info.assessment else ""
    reason = f"\n*Reason:* {escape(clip(info.reason, 300))}" if info.reason else ""
    return [
        _section(
            f":rotating_light: *{escape(info.incident_key)} · {escape(info.service)}*{sev}\n"
            f"{state_sentence(info)}{reason}"
        ),
        _context(f"Declared by {user(info.declared_by)} · follow along in {channel(info.channel_id)}"),
    ]


def status_update_blocks(rendered: str) -> list[dict]:
    """A stakeholder update rendered by ``bot.reports.render_status_update`` (already escaped)."""
    chunks = [rendered[i : i + SECTION_TEXT] for i in range(0, len(rendered), SECTION_TEXT)] or [" "]
    return _finish([_section(c) for c in chunks])


HELP = (
    ("/rollback <service> [reason]", "declare an incident and see what a rollback would do"),
    ("/rollback", "alone: pick the service from a list"),
    ("/rollback status", "the open incidents"),
    ("/rollback history <service>", "the rollout history of a service"),
    ("/rollback update", "post a status update (in the incident channel)"),
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


def status_blocks(open_incidents: Sequence[CardInfo]) -> list[dict]:
    if not open_incidents:
        return [
            _section(":white_check_mark: No open incidents. To declare one: `/rollback <service> [reason]`.")
        ]
    blocks = [_header(f"Open incidents ({len(open_incidents)})")]
    for info in open_incidents[: MAX_BLOCKS - 2]:
        sev = f" · {severity_line(info.assessment.severity)}" if info.assessment else ""
        blocks.append(
            _section(
                f"*{escape(info.incident_key)} · {escape(info.service)}*{sev}\n"
                f"{state_sentence(info)} · {channel(info.channel_id)} · lead {user(info.lead)}"
            )
        )
    if len(open_incidents) > MAX_BLOCKS - 2:
        blocks.append(_context(f"…and {len(open_incidents) - (MAX_BLOCKS - 2)} more"))
    return blocks


def history_blocks(service: str, revisions: Sequence[Revision], now: dt.datetime | None = None) -> list[dict]:
    """Newest first; the highest revision is the live one."""
    if not revisions:
        return [
            _section(
                f"No rollout history found for *{escape(service)}*. Check the service name with "
                "`/rollback status`, or ask the owners whether it is deployed."
            )
        ]
    ordered = sorted(revisions, key=lambda r: -r.number)
    lines = [_revision_text(r, now) + ("  *← live*" if i == 0 else "") for i, r in enumerate(ordered)]
    return [
        _header(f"Rollout history · {service}"),
        _section(_lines(lines, bullet="")),
        _context(
            f"To roll back: `/rollback {escape(service)} <reason>`. "
            "You will see the plan before anything changes."
        ),
    ]


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
        desired = f"rev {subject.desired.number} ({subject.desired.version})" if subject.desired else "?"
        text = (
            f"Nothing to do for {subject.target.service}: {subject.skipped}"
            if subject.skipped
            else f"Rollback plan for {subject.target.service}: rev {subject.current.number} "
            f"({subject.current.version}) -> {desired}. Nothing has changed yet; confirm to proceed."
        )
    elif isinstance(subject, Progress):
        text = subject.message
    elif isinstance(subject, Verification):
        text = "Verification passed" if subject.ok else "VERIFICATION FAILED: the service is still unhealthy"
    else:
        text = str(subject)
    return clip(_EMOJI.sub("", escape(text)).replace("`", "").strip(), SECTION_TEXT)


# ---------------------------------------------------------------- modals


def _input(block_id: str, label: str, element: dict, optional: bool = False, hint: str = "") -> dict:
    b = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        b["hint"] = _plain(hint, 2000)
    return b


def _text_input(placeholder: str, multiline: bool = False, max_length: int = 3000) -> dict:
    return {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": max_length,
        "placeholder": _plain(placeholder, 150),
    }


def _modal(callback: CallbackId, title: str, submit: str, blocks: list[dict], metadata: str = "") -> dict:
    return {
        "type": "modal",
        "callback_id": callback.value,
        "title": _plain(title, MODAL_TITLE),
        "submit": _plain(submit, MODAL_TITLE),
        "close": _plain("Cancel", MODAL_TITLE),
        "private_metadata": metadata[:PRIVATE_METADATA],
        "blocks": blocks,
    }


def declare_modal(services: Sequence[str], declared: Sequence[str] = ()) -> dict:
    """``/rollback`` typed alone: which service, why (a list when the catalog fits in one), data loss or breach.

    ``declared`` ticks the boxes already given with the command (``/rollback --data-loss``).
    """
    if 0 < len(services) <= MAX_OPTIONS:
        element = {
            "type": "static_select",
            "placeholder": _plain("Choose a service", 150),
            "options": [_option(s, s) for s in sorted(services)],
        }
    else:
        element = _text_input("shopping-service", max_length=63)
    options = [_option(label.capitalize(), key) for key, label in DECLARATIONS.items()]
    checkboxes: dict[str, Any] = {"type": "checkboxes", "options": options}
    if ticked := [o for o in options if o["value"] in declared]:
        checkboxes["initial_options"] = ticked  # Slack refuses an empty list
    return _modal(
        CallbackId.DECLARE,
        "Declare an incident",
        "Declare",
        [
            _input(DECLARE_SERVICE, "Service", element),
            _input(
                DECLARE_REASON,
                "What is wrong?",
                _text_input("checkout returns 500s", max_length=500),
                optional=True,
                hint="Shown to everyone in the incident channel.",
            ),
            _input(
                DECLARE_DECLARED,
                "Does it involve…",
                checkboxes,
                optional=True,
                hint="Either makes the incident Critical (roll back immediately). Metrics can't tell these; you can.",
            ),
            _context("Nothing is rolled back yet: you will see the plan and confirm it first."),
        ],
    )


def resolve_modal(incident_key: str) -> dict:
    """The postmortem form: root cause, impact, lessons, up to three action items (owner, due date)."""
    blocks = [
        _input(RESOLVE_ROOT_CAUSE, "Root cause", _text_input("What broke, and why?", multiline=True)),
        _input(RESOLVE_IMPACT, "Impact", _text_input("Who was affected, how, for how long?", multiline=True)),
        _input(
            RESOLVE_LESSONS,
            "Lessons learned",
            _text_input("What went well, what didn't", multiline=True),
            optional=True,
        ),
    ]
    for n in range(1, ACTION_ITEMS + 1):
        blocks += [
            {"type": "section", "text": _mrkdwn(f"*Action item {n}* (optional)")},
            _input(
                action_item_block(n, "text"),
                "What",
                _text_input("Add an alert on p95 latency", max_length=500),
                optional=True,
            ),
            _input(
                action_item_block(n, "owner"),
                "Owner",
                {"type": "users_select", "placeholder": _plain("Who", 150)},
                optional=True,
            ),
            _input(
                action_item_block(n, "due"),
                "Due",
                {"type": "datepicker", "placeholder": _plain("Due date", 150)},
                optional=True,
            ),
        ]
    return _modal(CallbackId.RESOLVE, f"Resolve {incident_key}", "Resolve", blocks, incident_key)


def status_update_modal(incident_key: str, status: str = "Investigating") -> dict:
    """A stakeholder update: what is happening, what is next, when the next update comes."""
    options = [_option(s, s) for s in UPDATE_STATUSES]
    initial = next((o for o in options if o["value"] == status), options[0])
    minutes = [_option(f"in {m} minutes", str(m)) for m in (15, 30, 60)] + [_option("no more updates", "0")]
    return _modal(
        CallbackId.STATUS_UPDATE,
        "Post a status update",
        "Post update",
        [
            _input(
                UPDATE_STATUS,
                "Status",
                {"type": "static_select", "options": options, "initial_option": initial},
            ),
            _input(
                UPDATE_SUMMARY,
                "What is happening",
                _text_input("Checkout errors are back to normal after the rollback", multiline=True),
            ),
            _input(
                UPDATE_NEXT,
                "What happens next",
                _text_input("We keep monitoring for 30 minutes", multiline=True),
                optional=True,
            ),
            _input(
                UPDATE_NEXT_IN,
                "Next update",
                {"type": "static_select", "options": minutes, "initial_option": minutes[1]},
            ),
            _context("Posted to the incident channel and the announcements channel."),
        ],
        incident_key,
    )


# ---------------------------------------------------------------- submitted values


def _value(values: Mapping[str, Any], block_id: str) -> Any:
    """The submitted value of one input (its action_id equals its block_id); None when empty."""
    state = values.get(block_id, {}).get(block_id) or {}
    kind = state.get("type")
    if kind == "static_select":
        return (state.get("selected_option") or {}).get("value")
    if kind == "users_select":
        return state.get("selected_user")
    if kind == "datepicker":
        return state.get("selected_date")
    return (state.get("value") or "").strip() or None


def parse_declare(values: Mapping[str, Any]) -> DeclareForm:
    """``view["state"]["values"]`` of the DECLARE modal; only known declarations are kept."""
    state = values.get(DECLARE_DECLARED, {}).get(DECLARE_DECLARED) or {}
    ticked = {option.get("value") for option in state.get("selected_options") or ()}
    return DeclareForm(
        service=_value(values, DECLARE_SERVICE) or "",
        reason=_value(values, DECLARE_REASON) or "",
        declared=tuple(key for key in DECLARATIONS if key in ticked),
    )


def parse_resolve(values: Mapping[str, Any]) -> ResolveForm:
    """``view["state"]["values"]`` of the RESOLVE modal; ``errors`` lists half-filled action items."""
    items: list[ActionItemForm] = []
    errors: dict[str, str] = {}
    for n in range(1, ACTION_ITEMS + 1):
        text, owner, due = (_value(values, action_item_block(n, p)) for p in ("text", "owner", "due"))
        if text:
            items.append(ActionItemForm(text, owner or "", dt.date.fromisoformat(due) if due else None))
        elif owner or due:
            errors[action_item_block(n, "text")] = "Say what needs doing, or clear the owner and due date."
    return ResolveForm(
        root_cause=_value(values, RESOLVE_ROOT_CAUSE) or "",
        impact=_value(values, RESOLVE_IMPACT) or "",
        lessons=_value(values, RESOLVE_LESSONS) or "",
        action_items=tuple(items),
        errors=errors,
    )


def parse_status_update(values: Mapping[str, Any]) -> StatusUpdateForm:
    minutes = _value(values, UPDATE_NEXT_IN)
    return StatusUpdateForm(
        status=_value(values, UPDATE_STATUS) or UPDATE_STATUSES[0],
        summary=_value(values, UPDATE_SUMMARY) or "",
        next_steps=_value(values, UPDATE_NEXT) or "",
        next_update_minutes=int(minutes) if minutes and minutes != "0" else None,
    )
