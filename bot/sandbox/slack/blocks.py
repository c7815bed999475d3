"""Block Kit checks and plain-text rendering, as Slack would apply and show them.

Validation goes through ``slack_sdk.models.blocks`` (parse, ``validate_json()``, and a round trip
that catches fields or types the SDK does not know), plus the rules Slack enforces on the whole
surface: item limits, unique ``action_id``/``block_id``, plain_text-only fields, non-empty texts.
Errors read like Slack's ``response_metadata.messages``: ``[ERROR] ... [json-pointer:/blocks/0]``.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MESSAGE_BLOCK_LIMIT = 50
MODAL_BLOCK_LIMIT = 100

# Fields whose text object Slack accepts only as plain_text.
_PLAIN_ONLY = {"header": ("text",), "input": ("label", "hint")}
_PLAIN_ELEMENT_FIELDS = ("placeholder",)


def _error(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _first_difference(original: Any, parsed: Any, pointer: str) -> str | None:
    """The first place where the SDK's round trip lost or changed what was sent."""
    if isinstance(original, dict) and isinstance(parsed, dict):
        for key, value in original.items():
            if key not in parsed:
                return f"{pointer}/{key}"
            found = _first_difference(value, parsed[key], f"{pointer}/{key}")
            if found:
                return found
        return None
    if isinstance(original, list) and isinstance(parsed, list):
        if len(original) != len(parsed):
            return pointer
        for i, (a, b) in enumerate(zip(original, parsed, strict=True)):
            found = _first_difference(a, b, f"{pointer}/{i}")
            if found:
                return found
        return None
    return None if original == parsed else pointer


def _walk(node: Any, pointer: str):
    """Yield every dict in the tree with its JSON pointer."""
    if isinstance(node, dict):
        yield node, pointer
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{i}")


def _surface_rules(blocks: list[dict], pointer: str) -> list[str]:
    errors: list[str] = []
    seen_actions: set[str] = set()
    seen_blocks: set[str] = set()
    for i, block in enumerate(blocks):
        bp = f"{pointer}/{i}"
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen_blocks:
                errors.append(
                    _error(f"block_id '{block_id}' is already used in this surface", f"{bp}/block_id")
                )
            seen_blocks.add(block_id)
        for field in _PLAIN_ONLY.get(block.get("type"), ()):
            text = block.get(field)
            if isinstance(text, dict) and text.get("type") != "plain_text":
                errors.append(_error("must be a plain_text text object", f"{bp}/{field}"))
        for node, np in _walk(block, bp):
            if (
                node.get("type") in ("plain_text", "mrkdwn")
                and "text" in node
                and not str(node["text"]).strip()
            ):
                errors.append(_error("must be more than 0 characters", f"{np}/text"))
            if "action_id" in node and node.get("type") not in ("plain_text", "mrkdwn"):
                action_id = node["action_id"]
                if action_id in seen_actions:
                    errors.append(
                        _error(f"action_id '{action_id}' is already used in this surface", f"{np}/action_id")
                    )
                seen_actions.add(action_id)
            if node.get("type") == "button" and isinstance(node.get("text"), dict):
                if node["text"].get("type") != "plain_text":
                    errors.append(_error("must be a plain_text text object", f"{np}/text"))
            for field in _PLAIN_ELEMENT_FIELDS:
                text = node.get(field)
                if isinstance(text, dict) and text.get("type") != "plain_text":
                    errors.append(_error("must be a plain_text text object", f"{np}/{field}"))
    return errors


def validate_blocks(blocks: Any, limit: int = MESSAGE_BLOCK_LIMIT, pointer: str = "/blocks") -> list[str]:
    """Slack-style error messages for ``blocks``; empty when Slack would accept them."""
    if not isinstance(blocks, list):
        return [_error("must be an array of blocks", pointer)]
    if len(blocks) > limit:
        return [_error(f"no more than {limit} items allowed", pointer)]
    errors: list[str] = []
    for i, raw in enumerate(blocks):
        bp = f"{pointer}/{i}"
        if not isinstance(raw, dict):
            errors.append(_error("must be an object", bp))
            continue
        try:
            block = Block.parse(raw)
            if block is None:
                errors.append(_error(f"unsupported type: {raw.get('type')}", f"{bp}/type"))
                continue
            block.validate_json()
        except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as exc:
            errors.append(_error(str(exc), bp))
            continue
        lost = _first_difference(raw, block.to_dict(), bp)
        if lost:
            errors.append(_error("unsupported or invalid value", lost))
    return errors or _surface_rules(blocks, pointer)


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _rich_text(node: Any) -> str:
    if isinstance(node, list):
        return "".join(_rich_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return node.get("text", "")
    if kind == "link":
        return node.get("text") or node.get("url", "")
    if kind == "user":
        return f"<@{node.get('user_id')}>"
    if kind == "channel":
        return f"<#{node.get('channel_id')}>"
    if kind == "emoji":
        return f":{node.get('name')}:"
    inner = _rich_text(node.get("elements", []))
    if kind == "rich_text_list":
        return "\n".join(f"• {_rich_text(e)}" for e in node.get("elements", []))
    return inner + (
        "\n" if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote") else ""
    )


def _element_label(element: dict) -> str:
    kind = element.get("type", "")
    if kind == "button":
        return f"[{_text(element.get('text'))}]"
    if "initial_option" in element:
        return f"[{_text(element['initial_option'].get('text'))} ▾]"
    if element.get("placeholder"):
        return f"[{_text(element['placeholder'])} ▾]"
    if kind == "overflow":
        return "[⋯]"
    return f"[{kind}]"


def render_blocks(blocks: list[dict]) -> list[str]:
    """The lines a person reads from ``blocks``: texts, fields, button labels; no markup changes."""
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type")
        if kind in ("section", "header", "markdown"):
            if block.get("text"):
                lines.append(_text(block["text"]) if kind != "markdown" else str(block["text"]))
            lines.extend(_text(f) for f in block.get("fields", []))
            if isinstance(block.get("accessory"), dict) and block["accessory"].get("type") != "image":
                lines.append(_element_label(block["accessory"]))
        elif kind == "context":
            parts = [
                _text(e) if e.get("type") != "image" else f"[image: {e.get('alt_text', '')}]"
                for e in block.get("elements", [])
            ]
            lines.append(" · ".join(p for p in parts if p))
        elif kind == "actions":
            lines.append(" ".join(_element_label(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("———")
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            lines.append(f"{_text(block.get('label'))}: {_element_label(block.get('element', {}))}")
        elif kind == "rich_text":
            lines.append(_rich_text(block.get("elements", [])).rstrip("\n"))
    return [line for text in lines for line in text.splitlines() or [""]]


def elements(blocks: list[dict]):
    """Yield (block_id, element) for every interactive element a person can use in ``blocks``."""
    for block in blocks or []:
        for element in [*block.get("elements", []), block.get("accessory"), block.get("element")]:
            if isinstance(element, dict) and "action_id" in element:
                yield block.get("block_id", ""), element


def find_option(element: dict, value: str) -> dict | None:
    """The option with ``value`` in a select, overflow, checkboxes or radio group (groups included)."""
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    return next((o for o in options if o.get("value") == value), None)
