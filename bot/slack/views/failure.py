"""The card when a rollback went wrong or could not be checked, and the verification report.

Failed loudly, with the actions that are left (another revision, scale to zero, page); a rollback
Prometheus could not check is never shown as healthy: it says what to check by hand.
"""

from __future__ import annotations

from bot.slack.views.blocks import (
    SECTION_TEXT,
    ActionId,
    _actions,
    _button,
    _confirm,
    _lines,
    _section,
    clip,
    encode_value,
    escape,
)
from bot.slack.views.incident import (
    CardInfo,
    RunInfo,
    _revision_select,
    _run_phase,
    _steps_text,
    card_value,
    state_sentence,
)
from bot.strategies import registry
from bot.strategies.base import Check, Verification


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
    checks = verification.checks
    if any(c.ok is False for c in checks):
        title = ":rotating_light: *VERIFICATION FAILED*"
    elif any(c.ok is None for c in checks) or not checks:
        title = ":warning: *Could not verify everything:* what could not be checked is marked :grey_question:"
    else:
        title = ":white_check_mark: *Verification passed.*"
    return [
        _section(
            title + "\n" + _lines((_check_line(c) for c in verification.checks), SECTION_TEXT - 60, bullet="")
        )
    ]


def emergency_hint(strategy: str, escalation: bool, can_choose: bool = True) -> str:
    """The "what you can do" sentence of a failure, naming only the buttons the failure card shows."""
    e = registry.emergency(strategy)
    options = [e.choose_hint if e.choose and can_choose else "", f"*{e.stop}* to stop serving errors"]
    options.append("or *Page escalation*" if escalation else "")
    return ", ".join(o for o in options if o) + "."


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
    e = registry.emergency(run.strategy)
    choose = _revision_select(info, e.choose) if e.choose else []
    finish = _finish_switch(run, e.finish_step)
    blocks.append(
        _section(
            "*What you can do now:* "
            + (f"*{finish}* (a fresh plan of what is left to switch; you see it first), " if finish else "")
            + emergency_hint(run.strategy, True, bool(choose))
            + " Nothing else will happen automatically."
        )
    )
    blocks.append(
        _actions(
            *_finish_button(key, run, finish),
            *choose,
            _button(
                e.stop,
                ActionId.SCALE_TO_ZERO,
                card_value(info),
                style="danger",
                confirm=_confirm(
                    f"{e.stop}?",
                    e.stop_confirm.format(service=escape(info.service), namespace=escape(info.namespace)),
                    e.stop,
                    "Keep running",
                    danger=True,
                ),
            ),
            _button("Page escalation", ActionId.PAGE_ESCALATION, card_value(info)),
            _button("Post update", ActionId.POST_UPDATE, key),
        )
    )
    return blocks


def _finish_switch(run: RunInfo, finish_step: str) -> str:
    """A run that failed at the step its strategy names as able to leave the change half done (blue-green's
    switch: its two writes, the selector and the route): the label of the button that plans the switch to the
    same side again, from what is live then; "" for any other failure."""
    wanted = finish_step.lower()
    cut_short = bool(wanted) and any(s.name.lower() == wanted and s.status == "failed" for s in run.steps)
    if not cut_short or run.to_revision is None:
        return ""
    return f"Finish the switch to {run.to_revision.title}"


def _finish_button(key: str, run: RunInfo, label: str) -> list[dict]:
    if not label or run.to_revision is None:
        return []
    value = encode_value(key, run.to_revision.number, run.run_id or 0)  # the run it finishes: stale after a newer one
    return [_button(label, ActionId.FINISH_SWITCH, value, "primary")]


def _unverified_blocks(info: CardInfo, run: RunInfo) -> list[dict]:
    """Rolled out, but Prometheus could not tell: say what to check by hand; never shown as healthy."""
    blocks = [_section(f"{state_sentence(info)}\n{_steps_text(run)}")]
    if run.verification:
        blocks += verification_blocks(run.verification)
    blocks.append(
        _section(
            "*Check by hand:* the service's 5xx rate and p95 latency on your dashboards, "
            + (f"{escape(info.check_by_hand)}, " if info.check_by_hand else "")
            + "and its health URL. Then click *Resolve* if it is healthy, or choose another revision."
        )
    )
    key = info.incident_key
    return blocks + [
        _actions(
            _button("Resolve", ActionId.RESOLVE, key, style="primary"),
            *_revision_select(info, "Choose another revision…"),
            _button("Post update", ActionId.POST_UPDATE, key),
        )
    ]
