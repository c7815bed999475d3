"""``bot.slack.payloads.parsed`` reads a body as Bolt's ``parse_body`` does, in one strict parse (the shape
check must check the very dict Bolt routes)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from slack_bolt.request.internals import parse_body

from bot.slack.payloads import malformed, parsed

FORM = "application/x-www-form-urlencoded"
BODIES = [
    (urlencode({"command": "/rollback", "text": "help", "user_id": "U1"}), FORM),
    (urlencode({"command": "/rollback", "text": "", "user_id": "U1"}), FORM),
    (urlencode({"command": "/rollback", "text": "say payload twice"}), FORM),  # Bolt's substring rule
    (urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})}), FORM),
    (urlencode([("a", "1"), ("a", "2")]), FORM),  # the last value, as Bolt's dict() keeps
    (json.dumps({"type": "event_callback", "event": {"type": "app_mention"}}), "application/json"),
    ('{"type": "url_verification", "challenge": "c"}', FORM),  # JSON by its first character
    ("", FORM),
]


@pytest.mark.parametrize(("body", "kind"), BODIES)
def test_the_dict_is_the_one_bolt_routes(body, kind):
    assert parsed(body, kind) == parse_body(body, kind)


@pytest.mark.parametrize("body", ["command=/rollback&text", "a=1&&b=2", "text=%FF%FE"])
def test_a_form_bolt_would_misread_is_refused(body):
    assert (malformed(body.encode(), FORM) or "").startswith("the body cannot be parsed ("), body
