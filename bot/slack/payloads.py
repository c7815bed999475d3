"""The shape of what Slack sends, checked after the signature and before Bolt routes it.

Bolt's matchers and its ``to_*`` helpers (``slack_bolt.request.payload_utils``,
``slack_bolt.request.internals.build_context``, the ``IgnoringSelfEvents`` middleware) index
payloads without checking them: a signed ``view_submission`` whose ``view`` has no ``type`` raises
``KeyError: 'type'`` inside Bolt, which answers 500 and logs a traceback. Our listeners read a few
fields more (``handlers/``, ``bot.slack.views.modals``' parsers). Every field that either of them
reads is described here with the type Slack documents, so a body that would make one of them raise
is refused with a reason (a 400) and never reaches them.

Only the payload types this app receives are accepted: slash commands, ``block_actions``,
``view_submission`` / ``view_closed``, ``event_callback``, ``url_verification`` and ``ssl_check``.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rule:
    """One field: its allowed types and, for a dict or a list, what it holds.

    ``nullable``: ``null`` is as good as absent (Bolt and the listeners test for ``None``).
    """

    types: tuple[type, ...]
    required: bool = False
    nullable: bool = True
    fields: Mapping[str, Rule] = field(default_factory=dict)  # a dict's known keys
    values: Rule | None = None  # every value of a dict keyed by ids (state.values)
    items: Rule | None = None  # every item of a list
    non_empty: bool = False
    valid: Callable[[Any], bool] | None = None  # a check beyond the type (a date's format)


def _iso_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10  # Slack's datepicker sends YYYY-MM-DD


def text(required: bool = False, non_empty: bool = False) -> Rule:
    return Rule((str,), required=required, nullable=not required, non_empty=non_empty)


ID = text(required=True, non_empty=True)
WITH_ID = Rule((dict,), fields={"id": ID})
USER = Rule((str, dict), fields={"id": ID})  # Bolt: a str, or a dict whose id it reads
CHANNEL = Rule((str, dict), fields={"id": ID})
NESTED = {"user": USER, "channel": CHANNEL}  # Bolt's extractors recurse into these dicts
OPTION = Rule((dict,), fields={"value": text(required=True)})
ELEMENT_STATE = Rule(  # one input's state, as view.state.values and parse_* read it
    (dict,),
    fields={
        "type": text(required=True),
        "value": text(),
        "selected_option": OPTION,
        "selected_options": Rule((list,), items=Rule((dict,), nullable=False, fields={"value": text(required=True)})),
        "selected_user": text(),
        "selected_users": Rule((list,), items=Rule((str,), nullable=False)),
        "selected_date": Rule((str,), valid=_iso_date),
        "selected_time": text(),
        "selected_conversation": text(),
        "selected_channel": text(),
    },
)
BLOCK_STATE = Rule((dict,), nullable=False, values=ELEMENT_STATE)  # action_id -> its state
STATE = Rule(  # Slack sends it with every view_submission, empty when the view has no inputs
    (dict,),
    required=True,
    nullable=False,
    fields={"values": Rule((dict,), required=True, nullable=False, values=BLOCK_STATE)},
)

COMMON: dict[str, Rule] = {  # any payload: what build_context and the middleware read
    "type": text(),
    "user": USER,
    "channel": CHANNEL,
    "team": Rule((str, dict), fields={"id": text()}),
    "enterprise": Rule((str, dict), fields={"id": text()}),
    "authorizations": Rule((list,), items=Rule((dict,), nullable=False)),
    "response_url": text(),
    "response_urls": Rule(
        (list,), nullable=False, items=Rule((dict,), nullable=False, fields={"response_url": text(required=True)})
    ),
    "trigger_id": text(),
    "event": Rule((dict,), nullable=False, fields={**NESTED, "type": text()}),
    "view": Rule((dict,)),
    "message": Rule((dict,), fields=NESTED),
    "previous_message": Rule((dict,), fields=NESTED),
    "item": Rule((dict,), fields=NESTED),
    "assistant_thread": Rule((dict,), fields=NESTED),
}
VIEW = Rule(
    (dict,),
    required=True,
    nullable=False,
    fields={
        "id": ID,
        "type": text(required=True, non_empty=True),
        "callback_id": text(required=True),
        "private_metadata": text(required=True),
        "state": STATE,
    },
)
ACTION = Rule(
    (dict,),
    nullable=False,
    fields={
        "action_id": ID,
        "type": text(),
        "block_id": text(),
        "value": text(),
        "selected_option": OPTION,
    },
)
BY_TYPE: dict[str, dict[str, Rule]] = {
    "block_actions": {
        "user": Rule((dict,), required=True, nullable=False, fields={"id": ID}),
        "channel": Rule((dict,), fields={"id": ID}),  # the listeners read channel.id
        "response_url": text(required=True, non_empty=True),  # every button of ours is on a message
        "actions": Rule((list,), required=True, nullable=False, non_empty=True, items=ACTION),
    },
    "view_submission": {"user": Rule((dict,), required=True, nullable=False, fields={"id": ID}), "view": VIEW},
    "view_closed": {"user": Rule((dict,), required=True, nullable=False, fields={"id": ID}), "view": VIEW},
    "event_callback": {
        "event": Rule((dict,), required=True, nullable=False, fields={**NESTED, "type": ID, "function": WITH_ID}),
    },
    "url_verification": {"challenge": text(required=True)},
}
EVENTS: dict[str, dict[str, Rule]] = {"app_mention": {"channel": ID, "ts": ID}}
COMMAND: dict[str, Rule] = {  # a slash command: a form, so every value is a string; these must be there
    "command": ID,
    "user_id": ID,
    "channel_id": ID,
    "response_url": ID,
}


def problem(value: Any, rule: Rule, path: str) -> str | None:
    """The first way ``value`` breaks ``rule`` (``path`` names it), or None."""
    if value is None:
        return f"{path} is null" if not rule.nullable else None
    if not isinstance(value, rule.types):
        wanted = " or ".join(t.__name__ for t in rule.types)
        return f"{path} is {type(value).__name__}, not {wanted}"
    if rule.non_empty and not value:
        return f"{path} is empty"
    if rule.valid is not None and not rule.valid(value):
        return f"{path} is not in the format Slack sends"
    if isinstance(value, dict):
        return fields_problem(value, rule.fields, path) or _each(value.items(), rule.values, path)
    if isinstance(value, list):
        return _each(((str(i), v) for i, v in enumerate(value)), rule.items, path)
    return None


def _each(pairs, rule: Rule | None, path: str) -> str | None:
    if rule is None:
        return None
    return next((p for key, v in pairs if (p := problem(v, rule, f"{path}.{key}"))), None)


def fields_problem(data: Mapping[str, Any], rules: Mapping[str, Rule], path: str = "") -> str | None:
    for key, rule in rules.items():
        where = f"{path}.{key}" if path else key
        if key not in data:
            if rule.required:
                return f"{where} is missing"
            continue
        if found := problem(data[key], rule, where):
            return found
    return None


def body_problem(body: Mapping[str, Any]) -> str | None:
    """Why Bolt or a listener would fail on this parsed body, or None when it has the shape Slack sends."""
    if "ssl_check" in body and "type" not in body:
        return None
    if "command" in body:
        return fields_problem(body, COMMAND) or fields_problem(body, COMMON)
    kind = body.get("type")
    if not isinstance(kind, str):
        return "the payload has no type" if kind is None else f"type is {type(kind).__name__}, not str"
    if kind not in BY_TYPE:
        return f"type {kind!r} is not a payload this app receives"
    found = fields_problem(body, BY_TYPE[kind]) or fields_problem(body, COMMON)
    if found or kind != "event_callback":
        return found
    return fields_problem(body["event"], EVENTS.get(body["event"]["type"], {}), "event")


def parsed(text_body: str, kind: str) -> Any:
    """The body as Bolt's ``parse_body`` reads it, from one strict parse: a form whose fields are not all
    ``name=value`` in UTF-8 raises ValueError (Bolt would take it as something else), as bad JSON does."""
    if not text_body:
        return {}
    if kind == "application/json" or text_body.startswith("{"):
        return json.loads(text_body)
    fields = dict(urllib.parse.parse_qsl(text_body, keep_blank_values=True, strict_parsing=True, errors="strict"))
    if "payload" in text_body:  # Bolt's own test: the word anywhere makes it read the payload field (or nothing)
        payload = fields.get("payload")
        return json.loads(payload) if payload is not None else {}
    return fields


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a (signed) request body is not one Slack sends, or None when Bolt and the listeners can take it.

    The body is read as Bolt's own ``parse_body`` reads it (``parsed``, one parse), so the dict checked is the
    dict Bolt routes.
    """
    try:
        text_body = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    try:
        data = parsed(text_body, content_type.split(";")[0].strip())
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return f"the body cannot be parsed ({type(exc).__name__})"
    if not isinstance(data, dict):
        return f"the payload is {type(data).__name__}, not an object"
    if not data:
        return "the body is empty, or has no command and no payload"
    return body_problem(data)
