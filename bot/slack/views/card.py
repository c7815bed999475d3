"""The pinned incident card (updated in place) and ``/rollback status``.

Facts on top (severity, signals, live and target revisions); below, only the actions the
incident's current state allows: decide, watch a rollback run, resolve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from slack_sdk.models.blocks import StaticSelectElement

from bot.config.outbound import STATUSES
from bot.signals.severity import SignalReading
from bot.slack.views.auto_rollback import countdown_text
from bot.slack.views.blocks import (
    FIELD_TEXT,
    MAX_BLOCKS,
    MAX_FIELDS,
    ActionId,
    _actions,
    _button,
    _confirm,
    _context,
    _finish,
    _header,
    _mrkdwn,
    _option,
    _plain,
    _section,
    ago,
    channel,
    clip,
    encode_value,
    escape,
    user,
)
from bot.slack.views.failure import _emergency_blocks, _unverified_blocks, verification_blocks
from bot.slack.views.incident import (
    CardInfo,
    RunInfo,
    _revision_select,
    _revision_text,
    _run_phase,
    _steps_text,
    _to_version,
    card_value,
    roles_text,
    severity_line,
    signal_text,
    state_sentence,
)


def _signal_field(reading: SignalReading) -> dict:
    icon = {True: " :warning:", False: " :white_check_mark:", None: " :grey_question:"}[
        None if reading.value is None else reading.breached
    ]
    return _mrkdwn(f"*{escape(reading.label)}*\n{escape(signal_text(reading))}{icon}", FIELD_TEXT)


def deadline_line(decide_by: dt.datetime, now: dt.datetime | None) -> str:
    """``*Decide by:* 14:10:00 UTC (in 7 min)``, or that it passed."""
    now = now or dt.datetime.now(dt.UTC)
    left = (decide_by - now).total_seconds()
    when = f"{decide_by:%H:%M:%S} UTC"
    if left <= 0:
        return f":alarm_clock: *Decision deadline:* {when}, passed: decide now"
    return f"*Decide by:* {when} (in {max(1, round(left / 60))} min)"


def _card_top(info: CardInfo, now: dt.datetime | None) -> list[dict]:
    sev = info.assessment.severity if info.assessment else None
    lines = [
        severity_line(sev) if sev else ":grey_question: *Severity not assessed yet*",
        f"*Status:* {state_sentence(info)}",
    ]
    if info.decide_by:
        lines.append(deadline_line(info.decide_by, now))
    if info.reason:
        lines.append(f"*Reason:* {escape(clip(info.reason, 500))}")
    if info.assessment and info.assessment.reasons:
        lines.append("*Why this severity:* " + "; ".join(escape(r) for r in info.assessment.reasons))
    blocks = [
        _header(f"{info.incident_key} · {info.service}"),
        _section("\n".join(lines)),
        _context(
            f"Declared by {user(info.declared_by)} {ago(info.created_at, now)} · "
            f"{roles_text(info)}" + (f" · namespace `{escape(info.namespace)}`" if info.namespace else "")
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
    return blocks + _status_page_blocks(info)


def _status_page_blocks(info: CardInfo) -> list[dict]:
    """What the status page says now, and the select that sets it (who may post status updates)."""
    page = info.status_page
    if page is None:
        return []
    said = STATUSES.get(page.status, "not set by the bot yet")
    by = f" (set by {user(page.set_by)})" if page.status and page.set_by not in ("", "bot") else ""
    error = f"\n:warning: The last change failed: {escape(clip(page.error, 300))}" if page.error else ""
    text = f"*Status page:* {said}{by}{error}"
    if info.status in ("resolved", "dismissed"):
        return [_context(text)]
    options = [_option(words, encode_value(info.incident_key, i)) for i, words in enumerate(STATUSES.values())]
    select = StaticSelectElement(
        action_id=ActionId.SET_STATUS_PAGE.value, placeholder=_plain("Set status page…"), options=options
    )
    return [_section(text), _actions(select.to_dict())]


def _decision_blocks(info: CardInfo) -> list[dict]:
    key = info.incident_key
    buttons: list[dict] = []
    if info.target:
        buttons.append(
            _button(
                f"Roll back to previous ({info.target.title})",
                ActionId.ROLLBACK_PREVIOUS,
                card_value(info, info.target.number),
                style="primary",
            )
        )
    buttons += _revision_select(info, "Choose revision…")
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
    countdown = _countdown_blocks(info)
    if info.run and info.run.status in ("cancelled", "expired"):
        note = f"The last rollback {info.run.status}: {escape(info.run.error) or 'nothing was changed'}. "
    return countdown + [
        _section(
            f"*What you can do:* {note}roll back, choose another revision, or fix forward. "
            "You will see the plan first: nothing changes until you confirm it."
        ),
        _actions(*buttons),
    ]


def _countdown_blocks(info: CardInfo) -> list[dict]:
    """While an automatic rollback waits out its grace period: when it goes, and the *Hold* that stops it."""
    if info.countdown is None:
        return []
    c = info.countdown
    value = encode_value(info.incident_key, None, c.plan_id)
    return [
        _section(f":hourglass_flowing_sand: *{countdown_text(escape(c.to_words), c.seconds_left)}.*"),
        _actions(_button("Hold", ActionId.HOLD_AUTO_ROLLBACK, value, "danger")),
    ]


STEERING = {
    "hold": ("Hold", ActionId.HOLD_STEP_DOWN),
    "resume": ("Resume step-down", ActionId.RESUME_STEP_DOWN),
    "zero": ("Go to 0 now", ActionId.GO_TO_ZERO),
}


def _steering(key: str, run: RunInfo) -> list[dict]:
    """During a canary step-down: *Hold* (or *Resume*) and *Go to 0 now*; otherwise what happens next."""
    if not run.controls:
        return [
            _context(
                "Next: the bot waits for the rollout, then verifies health. This card updates "
                "itself; you don't need to do anything."
            )
        ]
    value = encode_value(key, None, run.run_id)
    buttons = [_button(STEERING[c][0], STEERING[c][1], value) for c in run.controls]
    return [
        _context(
            "Next: the canary's weight steps down to 0 %, then the stable release is verified. "
            "*Hold* stays at this weight; *Go to 0 now* sends all traffic to the stable release at once."
        ),
        _actions(*buttons),
    ]


def delete_release_actions(incident_key: str, run_id: int, name: str) -> dict:
    """The second person's button that deletes the bad blue-green colour."""
    return _actions(
        _button(
            f"Delete {name}",
            ActionId.DELETE_RELEASE,
            encode_value(incident_key, None, run_id),
            style="danger",
            confirm=_confirm(
                f"Delete {name}?",
                f"The Deployment {escape(name)} and its pods are deleted. The bot first checks that it still "
                "gets no traffic and still runs the bad release; if not, nothing is deleted.",
                "Delete",
                "Keep it",
            ),
        )
    )


def resume_sync_actions(incident_key: str, run_id: int, title: str) -> dict:
    """The button that turns GitOps sync back on once Git has the rolled-back version."""
    return _actions(
        _button(
            "Resume sync",
            ActionId.RESUME_SYNC,
            encode_value(incident_key, None, run_id),
            confirm=_confirm(
                "Turn sync back on?",
                f"The {escape(title)} will apply what Git says. If Git still has the bad release, it puts it back "
                "and undoes the rollback.",
                "Git has the rollback: resume",
                "Not yet",
            ),
        )
    )


def _queued_text(run: RunInfo) -> str:
    """While a pending run waits for a worker slot: how many it waits behind, and that it does not expire."""
    if run.status != "pending" or run.queued_behind < 1:
        return ""
    n = run.queued_behind
    return (
        f"\n:hourglass: *Queued behind {n} rollback{'' if n == 1 else 's'}* of other services: it starts as soon "
        "as a worker slot is free, and does not expire while the workers are busy. Nothing has changed yet."
    )


def _lower_blocks(info: CardInfo) -> list[dict]:
    key, run, phase = info.incident_key, info.run, _run_phase(info.run)
    if info.status in ("resolved", "dismissed"):
        return [_section(f"{state_sentence(info)} This card takes no more actions.")]
    if run is not None and phase == "active":
        progress = (
            f"\n:hourglass_flowing_sand: {escape(run.progress_message)}" if run.progress_message else ""
        ) + _queued_text(run)
        return [
            _section(
                f"*Rolling back to {_to_version(info)}*, requested by {user(run.requested_by)}.{progress}"
            ),
            _section(_steps_text(run) or "Starting…"),
            *_steering(key, run),
        ]
    if run is not None and phase in ("failed", "verification_failed"):
        return _emergency_blocks(info, run)
    if run is not None and phase == "could_not_verify":
        return _unverified_blocks(info, run)
    if phase == "verified" or info.status in ("mitigated", "forward_fix"):
        blocks: list[dict] = []
        if run is not None and phase == "verified":
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
                    "Roll back after all", ActionId.ROLLBACK_PREVIOUS, card_value(info, info.target.number)
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
                f"{state_sentence(info)} · {channel(info.channel_id)} · {roles_text(info)}"
            )
        )
    if len(open_incidents) > MAX_BLOCKS - 2:
        blocks.append(_context(f"…and {len(open_incidents) - (MAX_BLOCKS - 2)} more"))
    return blocks
