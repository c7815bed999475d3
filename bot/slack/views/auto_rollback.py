"""The automatic rollback's countdown message: what will happen, when, and the *Hold* that stops it."""

from __future__ import annotations

from bot.slack.views.blocks import ActionId, _actions, _button, _context, _section, encode_value, escape


def clock(seconds: float) -> str:
    """``2:00``, ``0:09``: the time left as people read a countdown."""
    whole = max(0, int(seconds + 0.999))
    return f"{whole // 60}:{whole % 60:02d}"


def countdown_text(to_words: str, seconds_left: float) -> str:
    return f"Rolling back to {to_words} in {clock(seconds_left)} unless someone clicks *Hold*"


def auto_rollback_countdown(
    incident_key: str, plan_id: int, to_words: str, seconds_left: float, why: str
) -> tuple[str, list[dict]]:
    """The message while the grace period runs (updated in place at most every 10 s)."""
    text = countdown_text(escape(to_words), seconds_left)
    return text, [
        _section(f":hourglass_flowing_sand: {text}."),
        _context(
            f"Automatic rollback (system: auto-rollback): {escape(why)}. The plan is posted below; *Confirm* it to "
            "roll back now, *Hold* (or the plan's *Cancel*) to decide yourselves."
        ),
        _actions(_button("Hold", ActionId.HOLD_AUTO_ROLLBACK, encode_value(incident_key, None, plan_id), "danger")),
    ]


def auto_rollback_ended(text: str) -> tuple[str, list[dict]]:
    """The same message once the countdown is over: what happened, without the button."""
    return text, [_section(text)]
