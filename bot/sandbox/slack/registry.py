"""The table of Web API methods and the small helpers every method uses.

A method is ``fn(emulator, params) -> dict`` (the ``ok: true`` body without ``ok``); it raises
``SlackError`` for Slack's ``ok: false`` answers.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable
from typing import Any

from bot.sandbox.slack.blocks import MESSAGE_BLOCK_LIMIT, validate_blocks

_INTERACTIVE = {
    "button",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
}
Method = Callable[[Any, dict[str, Any]], dict]
METHODS: dict[str, Method] = {}


class SlackError(Exception):
    """Slack's ``{"ok": false, "error": ...}``; ``extra`` is merged into the body."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.status, self.extra = error, status, extra

    def body(self) -> dict:
        return {"ok": False, "error": self.error, **self.extra}


def method(name: str) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return register


def json_param(params: dict, name: str, error: str = "invalid_arguments") -> Any:
    """A parameter sent either as JSON text (form bodies) or as a value (JSON bodies)."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(
                error, response_metadata={"messages": [f"[ERROR] {name}: not valid JSON"]}
            ) from exc
    return value


def need(params: dict, name: str, error: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise SlackError(error)
    return str(value)


def flag(params: dict, name: str, default: bool = False) -> bool:
    value = params.get(name, default)
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def checked_blocks(params: dict, limit: int = MESSAGE_BLOCK_LIMIT, pointer: str = "/blocks") -> list | None:
    """The ``blocks`` parameter, validated like Slack does; ``None`` when absent."""
    if params.get("blocks") in (None, "", "[]", []):
        return None
    blocks = json_param(params, "blocks", "invalid_blocks_format")
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    return check_blocks(blocks, limit, pointer)


def check_blocks(blocks: list, limit: int, pointer: str) -> list:
    """Validated blocks, with the ``block_id``/``action_id`` Slack generates where they are missing."""
    errors = validate_blocks(blocks, limit, pointer)
    if errors:
        raise SlackError("invalid_blocks", errors=errors, response_metadata={"messages": errors})
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        block.setdefault("block_id", secrets.token_urlsafe(4))
        elements = [*block.get("elements", []), block.get("accessory"), block.get("element")]
        for element in elements:
            if isinstance(element, dict) and element.get("type") in _INTERACTIVE:
                element.setdefault("action_id", secrets.token_urlsafe(4))
    return blocks
