"""Signed but malformed requests get 400 (no traceback, nothing changed); unsigned ones 401."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import random
import time
import urllib.parse
from collections.abc import Callable
from functools import partial

import requests

from bot.incidents.cards import incident_in_channel
from bot.sandbox.harness import BotHarness, OnCall
from bot.sandbox.world import ONCALL, SANDBOX_SIGNING_SECRET, VIEWER
from bot.slack.views import (
    DECLARE_DECLARED,
    DECLARE_REASON,
    DECLARE_SERVICE,
    RESOLVE_IMPACT,
    RESOLVE_LESSONS,
    RESOLVE_ROOT_CAUSE,
    UPDATE_NEXT_IN,
    UPDATE_STATUS,
    UPDATE_SUMMARY,
    ActionId,
    CallbackId,
    action_item_block,
)
from tests.e2e.conftest import SERVICE, channel_prefix


def signed_headers(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> dict:
    ts = str(int(time.time()))
    mac = hmac.new(SANDBOX_SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest(), "Content-Type": content_type}


def malformed_bodies(rand: random.Random, count: int) -> list[tuple[bytes, str]]:
    """Bodies Slack never sends: bad UTF-8, truncated forms, payloads of the wrong shape, huge fields."""
    form = "application/x-www-form-urlencoded"
    shapes = [
        lambda: (bytes(rand.randrange(128, 256) for _ in range(rand.randint(1, 64))), form),
        lambda: (
            b"payload=" + urllib.parse.quote(json.dumps({"type": "block_actions"})[: rand.randint(1, 20)]).encode(),
            form,
        ),
        lambda: (
            b"payload=" + urllib.parse.quote(json.dumps(rand.choice([[], 1, "x", None, {"no": "type"}]))).encode(),
            form,
        ),
        lambda: (b"payload=" + urllib.parse.quote(json.dumps({"type": rand.randint(0, 9)})).encode(), form),
        lambda: (json.dumps({"no_type": "x" * rand.randint(0, 100_000)}).encode(), "application/json"),
        lambda: (json.dumps(rand.choice([[1], "s", 3])).encode(), "application/json"),
        lambda: (b"%" * rand.randint(1, 50) + b"=&&==", form),
        lambda: (("payload=" + "\x00" * rand.randint(1, 100)).encode(), form),
    ]
    return [rand.choice(shapes)() for _ in range(count)]


def test_fuzzed_signed_requests_are_refused_with_400_and_change_nothing(world, bot, caplog):
    url = f"{bot.url}/slack/events"
    channels_before = len(world.slack.channels)
    calls_before = len(world.slack.calls())  # Bolt's auth.test at start
    statuses = []
    with caplog.at_level(logging.INFO):
        for body, content_type in malformed_bodies(random.Random(20261122), 200):
            statuses.append(
                requests.post(url, data=body, headers=signed_headers(body, content_type), timeout=10).status_code
            )
    assert set(statuses) == {400}, {s: statuses.count(s) for s in set(statuses)}
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"
    assert len(world.slack.channels) == channels_before and len(world.slack.calls()) == calls_before, "nothing"


def test_unsigned_or_forged_requests_still_get_401(world, bot):
    body = b"command=%2Frollback&text=shopping-service&user_id=U_ONCALL"
    forged = {**signed_headers(body), "X-Slack-Signature": "v0=" + "0" * 64}
    assert requests.post(f"{bot.url}/slack/events", data=body, headers=forged, timeout=10).status_code == 401
    stale = signed_headers(b"\xff")
    stale["X-Slack-Request-Timestamp"] = str(int(time.time()) - 3600)
    assert requests.post(f"{bot.url}/slack/events", data=b"\xff", headers=stale, timeout=10).status_code == 401


def test_the_route_table_answers_unknown_paths_404_and_wrong_methods_405_with_allow(world, bot):
    """The load balancer's HEAD and GET of /healthz; anything not served is told what is, politely, in plain text."""
    calls_before = len(world.slack.calls())
    assert requests.head(f"{bot.url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{bot.url}/healthz", timeout=5).json() == {"status": "ok"}
    missing = requests.post(f"{bot.url}/alerts/nowhere", data=b"{}", timeout=5)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/plain")
    assert "/alerts/nowhere is not served here" in missing.text and "POST /slack/events" in missing.text
    for method, path, allow in (("POST", "/healthz", "GET, HEAD"), ("GET", "/slack/events", "POST")):
        wrong = requests.request(method, f"{bot.url}{path}", timeout=5)
        assert (wrong.status_code, wrong.headers["Allow"]) == (405, allow), wrong.text
        assert wrong.text == f"Method not allowed: {path} answers {allow}, not {method}."
    assert len(world.slack.calls()) == calls_before, "nothing reached Bolt"


# ---------------------------------------------------------------- every action id and every view callback

WRONG = {str: (7,), int: ("7",), float: ("7",), bool: ("x",), dict: ("x", None), list: ("x", None), type(None): (7,)}


OPAQUE = {"blocks", "title", "submit", "close", "text"}  # what is shown, not read: changed whole, not inside


def fields_of(payload: dict | list, nested: tuple = ()) -> list[tuple]:
    """The path of every field of the payload, depth first (list items by index)."""
    found = []
    for key, value in payload.items() if isinstance(payload, dict) else enumerate(payload):
        found.append((*nested, key))
        if isinstance(value, dict | list) and key not in OPAQUE:
            found += fields_of(value, (*nested, key))
    return found


def mutated(payload: dict, path: tuple, wrong: int | None) -> dict:
    """``payload`` with the field at ``path`` gone (``wrong`` None) or holding the ``wrong``-th wrong type."""
    changed = copy.deepcopy(payload)
    holder = changed
    for key in path[:-1]:
        holder = holder[key]
    if wrong is None:
        del holder[path[-1]]
    else:
        holder[path[-1]] = WRONG[type(holder[path[-1]])][wrong]
    return changed


def variants(fresh) -> list[tuple[str, Callable[[], dict]]]:
    """(what, make) for the payload as sent and for each of its fields missing and of each wrong type; each
    ``make`` builds its own payload, so every request has its own response_url and trigger."""
    out = [("as sent", fresh)]
    sample = fresh()
    for path in fields_of(sample):
        holder = sample
        for key in path:
            holder = holder[key]
        for wrong in (None, *range(len(WRONG[type(holder)]))):
            how = "missing" if wrong is None else f"= {WRONG[type(holder)][wrong]!r}"
            out.append((f"{'.'.join(map(str, path))} {how}", lambda p=path, w=wrong: mutated(fresh(), p, w)))
    return out


def no_tracebacks(caplog) -> None:
    tracebacks = [f"{r.name}: {r.getMessage()}: {r.exc_info[1]!r}" for r in caplog.records if r.exc_info]
    assert not tracebacks, f"{len(tracebacks)} tracebacks, e.g. {tracebacks[:3]}"


def click_on(h, user: str, card: dict, channel_id: str, action_id: str, value: str) -> dict:
    """A click on ``action_id`` carrying ``value``, as Slack sends it from the incident card."""
    payload = h.driver.click_payload(user, card, ActionId.ROLLBACK_PREVIOUS, channel_id=channel_id)
    action = payload["actions"][0]
    action["action_id"] = action_id
    if action_id == ActionId.CHOOSE_REVISION:  # a select: the value is the chosen option's
        del action["value"]
        option = {"text": {"type": "plain_text", "text": "revision"}, "value": value}
        action.update(type="static_select", selected_option=option)
    else:
        action["value"] = value
    return payload


def answers(world, payload: dict) -> int | None:
    """How many times the bot answered through the click's response_url (None: the click had none)."""
    url = payload.get("response_url")
    found = world.slack.response_urls.get(url.rsplit("/", 1)[-1]) if isinstance(url, str) else None
    return None if found is None else found.uses


def test_every_action_with_any_field_missing_or_mistyped_gets_one_answer_or_400(world, caplog):
    """Dave (who may act on nothing) clicks every action id with each field gone or of the wrong type:
    a 400, or exactly one private answer through its response_url; never a 500, never a traceback."""
    sent = []
    with caplog.at_level(logging.INFO), BotHarness(world) as h:
        alice, dave = OnCall(h, ONCALL), OnCall(h, VIEWER)
        alice.type(f"{SERVICE} errors")
        channel = alice.channel(channel_prefix())
        card = alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
        key = incident_in_channel(h.rt, channel.id).key
        for action_id in ActionId:
            fresh = partial(click_on, h, dave.user, card, channel.id, str(action_id), f"{key}|3|1")
            unknown = partial(click_on, h, dave.user, card, channel.id, str(action_id), "INC-1999-999|3|1")
            for what, make in [
                *variants(fresh),
                ("an unknown incident", lambda u=unknown: mutated(u(), ("channel",), None)),
            ]:
                payload = make()
                sent.append((f"{action_id}: {what}", h.driver.send_payload(payload).status_code, payload))
    # The harness has stopped, which waits for every job it accepted: all the answers are in.
    assert {s for _, s, _ in sent} == {200, 400}, {w: s for w, s, _ in sent if s not in (200, 400)}
    wrong = [(what, answers(world, p)) for what, status, p in sent if status == 200 and answers(world, p) != 1]
    assert not wrong, f"{len(wrong)} of {len(sent)} clicks did not get exactly one answer: {wrong[:12]}"
    no_tracebacks(caplog)


def submission(h, view: dict, values: dict, users: list[str]) -> dict:
    """``view`` submitted with ``values`` by a newcomer (one per request, so each one's answers can be counted)."""
    user = f"U_FUZZ{len(users):04d}"
    users.append(user)
    h.world.slack.add_user(user)
    return h.driver.view_submission_payload(user, view, values)


def form_values() -> dict[str, dict]:
    """Every field of each modal filled in (callback id -> values)."""
    return {
        CallbackId.DECLARE: {
            DECLARE_SERVICE: {DECLARE_SERVICE: SERVICE},
            DECLARE_REASON: {DECLARE_REASON: "payments failing"},
            DECLARE_DECLARED: {DECLARE_DECLARED: ["data-loss"]},
        },
        CallbackId.RESOLVE: {
            RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "a bad image"},
            RESOLVE_IMPACT: {RESOLVE_IMPACT: "checkout failed"},
            RESOLVE_LESSONS: {RESOLVE_LESSONS: "canary first"},
            action_item_block(1, "text"): {action_item_block(1, "text"): "add a canary"},
            action_item_block(1, "owner"): {action_item_block(1, "owner"): ONCALL},
            action_item_block(1, "due"): {action_item_block(1, "due"): "2026-12-31"},
        },
        CallbackId.STATUS_UPDATE: {
            UPDATE_STATUS: {UPDATE_STATUS: "Monitoring"},
            UPDATE_SUMMARY: {UPDATE_SUMMARY: "rolled back"},
            UPDATE_NEXT_IN: {UPDATE_NEXT_IN: "15"},
        },
    }


def test_every_view_with_any_field_missing_or_mistyped_gets_one_answer_or_400(world, caplog):
    """Each modal the bot opens, submitted by someone new with each field gone or of the wrong type: a 400, or
    exactly one answer (the form's errors, or one direct message); never a 500, never a traceback."""
    sent, users = [], []
    with caplog.at_level(logging.INFO), BotHarness(world) as h:
        alice = OnCall(h, ONCALL)
        alice.type(f"{SERVICE} errors")
        channel = alice.channel(channel_prefix())
        alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
        alice.type("")
        alice.type("update", channel_id=channel.id)
        alice.type("resolve", channel_id=channel.id)
        for callback_id, values in form_values().items():
            fresh = partial(submission, h, alice.modal(callback_id), values, users)
            for what, make in variants(fresh):
                payload = make()
                response = h.driver.send_payload(payload)
                errors = response.status_code == 200 and "errors" in response.text
                sent.append((f"{callback_id}: {what}", response.status_code, users[-1], errors))
    # The harness has stopped, which waits for every job it accepted: all the answers are in.
    assert {s for _, s, _, _ in sent} == {200, 400}, {w: s for w, s, _, _ in sent if s not in (200, 400)}
    counted = [(what, errors + len(world.slack.messages(user))) for what, status, user, errors in sent if status == 200]
    wrong = [(what, n) for what, n in counted if n != 1]
    assert not wrong, f"{len(wrong)} of {len(sent)} submissions did not get exactly one answer: {wrong[:12]}"
    no_tracebacks(caplog)
