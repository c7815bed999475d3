"""Slack's limits, the ids handlers register on, and the small helpers every builder uses.

User text is escaped (``<!channel>`` in a reason must not ping anyone) and clipped to Slack's
limits here, so a builder's output is always accepted by ``chat.postMessage`` / ``views.open``.
Buttons, confirms and options go through ``slack_sdk.models``, which checks them as it builds.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from typing import NamedTuple

from slack_sdk.models.blocks import ButtonElement, ConfirmObject, Option

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
    HOLD_STEP_DOWN = "hold_step_down"  # the value's third part is the run id
    RESUME_STEP_DOWN = "resume_step_down"
    GO_TO_ZERO = "go_to_zero"
    DELETE_RELEASE = "delete_release"
    RESUME_SYNC = "resume_sync"  # the value's third part is the run that suspended GitOps sync
    REVERT_ENV_ONLY = "revert_env_only"  # on an undo's plan: the env of its revision, the live image kept
    FINISH_SWITCH = "finish_switch"  # a blue-green switch cut short: plan what is left (value: the colour)
    SET_STATUS_PAGE = "set_status_page"  # the card's status page select: the value's second part is the status
    HOLD_AUTO_ROLLBACK = "hold_auto_rollback"  # the countdown's Hold: the value's third part is its plan
    PAGE_SITUATION = "page_situation"  # the escalation matrix's Page: the value's second part is its index
    ACK_PAGE = "ack_page"  # I'm on it: the value's third part is the page


class ActionValue(NamedTuple):
    """What a button carries: the incident, the revision it offers, and the plan it decides (if any)."""

    incident_key: str
    revision: int | None = None
    plan_id: int | None = None


def encode_value(incident_key: str, revision: int | None = None, plan_id: int | None = None) -> str:
    """A short button/option value: ``INC-2026-001``, ``INC-2026-001|2`` or ``INC-2026-001|2|<plan id>``."""
    parts = [incident_key, "" if revision is None else str(revision), "" if plan_id is None else str(plan_id)]
    return "|".join(parts).rstrip("|")


def decode_value(value: str) -> ActionValue:
    key, _, rest = (value or "").partition("|")
    rev, _, plan = rest.partition("|")
    return ActionValue(key, int(rev) if rev.isdigit() else None, int(plan) if plan.isdigit() else None)


# ---------------------------------------------------------------- text helpers

_USER_ID = re.compile(r"^[UW][A-Z0-9_]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
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


DATE_TOKEN = re.compile(r"<!date\^\d+\^[^|>]*(?:\^[^|>]*)?\|([^>]*)>")


def date(t: dt.datetime, token: str = "{time}", fallback: str = "%H:%M UTC") -> str:
    """A time as Slack shows it in each reader's own time zone (``<!date^…>``); the fallback text, for clients
    that cannot, and for the markdown (``undate``), is UTC."""
    at = _utc(t)
    return f"<!date^{int(at.timestamp())}^{token}|{at.strftime(fallback)}>"


def undate(text: str) -> str:
    """Slack text with its ``<!date^…>`` tokens replaced by their UTC fallback (for the markdown)."""
    return DATE_TOKEN.sub(lambda m: m.group(1), text)


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


# ---------------------------------------------------------------- blocks and elements


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


def _button(
    text: str, action: ActionId, value: str, style: str | None = None, confirm: dict | None = None
) -> dict:
    return ButtonElement(
        text=_plain(text), action_id=action.value, value=value, style=style, confirm=confirm
    ).to_dict()


def _confirm(title: str, text: str, yes: str, no: str, danger: bool = False) -> dict:
    return ConfirmObject(
        title=_plain(title, 100),
        text=_mrkdwn(text, 300),
        confirm=_plain(yes, 30),
        deny=_plain(no, 30),
        style="danger" if danger else None,
    ).to_dict()


def _option(text: str, value: str) -> dict:
    return Option(text=_plain(text, OPTION_TEXT), value=value[:OPTION_VALUE]).to_dict()


def _actions(*elements: dict) -> dict:
    return {"type": "actions", "elements": list(elements)}


def _finish(blocks: list[dict]) -> list[dict]:
    """Never more than Slack's 50 blocks: the tail is replaced by a note."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    return blocks[: MAX_BLOCKS - 1] + [_context(f"…{len(blocks) - MAX_BLOCKS + 1} more not shown")]
