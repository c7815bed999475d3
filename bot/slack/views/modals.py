"""The forms: ``/rollback`` typed alone, the postmortem, the status update; and their parsers,
so no other module needs to know Slack's view payload shapes."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from bot.signals.severity import DECLARATIONS
from bot.slack.views.blocks import MAX_OPTIONS, _context, _mrkdwn, _option, _plain

MODAL_TITLE = 24
PRIVATE_METADATA = 3000
ACTION_ITEMS = 3  # action item rows in the resolve modal


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
        next_update_minutes=int(minutes) if minutes and minutes.isdigit() else None,  # 0: no more; None: default
    )
