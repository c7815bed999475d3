"""Plays the workspace's people: sends the bot what Slack sends, signed as Slack signs it.

Slash commands are form-encoded; interactivity (clicks, view submissions) is a ``payload=`` form field
holding JSON; events are JSON. Every request carries ``X-Slack-Request-Timestamp`` and the v0
``X-Slack-Signature`` (HMAC-SHA256 of ``v0:{timestamp}:{body}``); tests may forge either.
A click only works on an element the message really shows, so a test cannot press a hidden button.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from bot.sandbox.slack.blocks import elements, find_option
from bot.sandbox.slack.emulator import SlackEmulator
from bot.sandbox.slack.methods_misc import checked_view, store_view
from bot.sandbox.slack.registry import SlackError

FORM = "application/x-www-form-urlencoded"
_MULTI = {"multi_static_select", "multi_external_select", "checkboxes"}
_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
_SELECTED = {  # element type -> the state key Slack fills with a plain value
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "rich_text_input": "rich_text_value",
}


def element_state(element: dict, value: Any) -> dict:
    """What Slack reports for an element holding ``value`` (state.values entries and action fields)."""
    kind = element["type"]
    if kind in _SINGLE_OPTION:
        option = None if value is None else find_option(element, str(value))
        if value is not None and option is None:
            raise AssertionError(f"{element['action_id']!r} offers no option with value {value!r}")
        return {"type": kind, "selected_option": option}
    if kind in _MULTI:
        options = [find_option(element, str(v)) for v in value or []]
        if None in options:
            raise AssertionError(f"{element['action_id']!r} does not offer all of {value!r}")
        return {"type": kind, "selected_options": options}
    if kind in _SELECTED:
        return {"type": kind, _SELECTED[kind]: value}
    return {"type": kind, "value": value}


@dataclass
class _Sent:
    body: str
    content_type: str


class SlackDriver:
    """Sends signed Slack requests to the bot's HTTP endpoint (``bot_url``), as the given users."""

    def __init__(self, emulator: SlackEmulator, bot_url: str, signing_secret: str, timeout: float = 10.0) -> None:
        self.emulator, self.bot_url, self.signing_secret, self.timeout = (
            emulator,
            bot_url,
            signing_secret,
            timeout,
        )
        self.session = requests.Session()
        self.last: _Sent | None = None

    # ---- transport ------------------------------------------------------------------------------------

    def signature_headers(self, body: str, timestamp: int | None = None, secret: str | None = None) -> dict:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new((secret or self.signing_secret).encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest.hexdigest()}"}

    def send(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        extra_headers: dict | None = None,
    ) -> requests.Response:
        """POST ``body`` to the bot, signed (``timestamp``/``secret`` override to forge or replay)."""
        self.last = _Sent(body, content_type)
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **self.signature_headers(body, timestamp, secret),
            **(extra_headers or {}),
        }
        return self.session.post(self.bot_url, data=body.encode(), headers=headers, timeout=self.timeout)

    def retry(self, num: int = 1, reason: str = "http_timeout") -> requests.Response:
        """Send the last request again, as Slack does when the bot did not answer within 3 seconds."""
        if self.last is None:
            raise RuntimeError("nothing was sent yet")
        return self.send(
            self.last.body,
            self.last.content_type,
            extra_headers={"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason},
        )

    def _interaction(self, payload: dict, **sign: Any) -> requests.Response:
        return self.deliver("interactive", payload, **sign)

    def deliver(self, kind: str, data: dict, **sign: Any) -> requests.Response:
        """What Slack sends for ``kind`` (Socket Mode's envelope types: ``slash_commands``, ``interactive``,
        ``events_api``), as HTTP: a form, a form whose ``payload`` is JSON, JSON; signed. ``SocketModeDriver``
        sends the same dicts in envelopes instead."""
        if kind == "slash_commands":
            return self.send(urlencode(data), FORM, **sign)
        if kind == "interactive":
            return self.send(urlencode({"payload": json.dumps(data)}), FORM, **sign)
        return self.send(json.dumps(data), "application/json", **sign)

    def _user(self, user_id: str) -> dict:
        user = self.emulator.users.get(user_id)
        if user is None:
            raise AssertionError(f"no user {user_id} in the workspace")
        return {
            "id": user_id,
            "username": user["name"],
            "name": user["name"],
            "team_id": self.emulator.team_id,
        }

    def _common(self, user_id: str) -> dict:
        emu = self.emulator
        return {
            "user": self._user(user_id),
            "api_app_id": emu.app_id,
            "token": emu.verification_token,
            "team": {"id": emu.team_id, "domain": emu.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "trigger_id": emu.issue_trigger(user_id),
        }

    def _channel(self, channel_id: str | None) -> Any:
        channel = self.emulator.resolve_channel(channel_id or "#general")
        if channel is None:
            raise AssertionError(f"no channel {channel_id}")
        return channel

    # ---- what people do -------------------------------------------------------------------------------

    def command(
        self, user_id: str, text: str, command: str = "/rollback", channel_id: str | None = None, **sign: Any
    ) -> requests.Response:
        """Type ``/command text`` in a channel (``#general`` unless given)."""
        emu, channel = self.emulator, self._channel(channel_id)
        form = {
            "token": emu.verification_token,
            "team_id": emu.team_id,
            "team_domain": emu.team_domain,
            "channel_id": channel.id,
            "channel_name": "directmessage" if channel.is_im else channel.name,
            "user_id": user_id,
            "user_name": self._user(user_id)["name"],
            "command": command,
            "text": text,
            "api_app_id": emu.app_id,
            "is_enterprise_install": "false",
            "response_url": emu.issue_response_url(user_id, channel.id),
            "trigger_id": emu.issue_trigger(user_id),
        }
        return self.deliver("slash_commands", form, **sign)

    def click(
        self,
        user_id: str,
        message: dict,
        action_id: str,
        value: str | None = None,
        selected_option: str | None = None,
        channel_id: str | None = None,
        as_seen: bool = False,
        **sign: Any,
    ) -> requests.Response:
        """Use element ``action_id`` of a message (its latest version), an ephemeral message or a view.
        ``as_seen``: of ``message`` as given, an older version (a screen that had not refreshed since)."""
        payload = self.click_payload(user_id, message, action_id, value, selected_option, channel_id, as_seen)
        return self._interaction(payload, **sign)

    def click_reply(self, user_id: str, reply: dict, action_id: str, value: str, **sign: Any) -> requests.Response:
        """Click the button ``action_id`` carrying ``value`` in a private answer (from ``emulator.responses()``,
        shown only to ``user_id``; several buttons of one id, each in its own block, are told apart by value)."""
        emu = self.emulator
        found = [(b, e) for b, e in elements(reply.get("blocks", [])) if e["action_id"] == action_id]
        block_id, element = next(((b, e) for b, e in found if e.get("value") == value), (None, None))
        if element is None:
            raise AssertionError(f"the answer shows no {action_id!r} carrying {value!r}: {[e for _, e in found]}")
        ts, cid = emu.next_ts(), reply["channel"]
        payload: dict[str, Any] = {
            "type": "block_actions",
            **self._common(user_id),
            "container": {"type": "message", "message_ts": ts, "channel_id": cid, "is_ephemeral": True},
            "response_url": emu.issue_response_url(user_id, cid, ts, True),
            "channel": {"id": cid, "name": self._channel(cid).name},
            "state": {"values": {}},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "action_ts": f"{time.time():.6f}",
                    "type": "button",
                    "text": element["text"],
                    "value": value,
                }
            ],
        }
        return self._interaction(payload, **sign)

    def send_payload(self, payload: dict, **sign: Any) -> requests.Response:
        """Send an interaction payload as built (a test may have changed it: a field gone, a wrong type)."""
        return self._interaction(payload, **sign)

    def click_payload(
        self,
        user_id: str,
        message: dict,
        action_id: str,
        value: str | None = None,
        selected_option: str | None = None,
        channel_id: str | None = None,
        as_seen: bool = False,
    ) -> dict:
        """The ``block_actions`` payload Slack sends for a click on element ``action_id`` of ``message``."""
        emu = self.emulator
        payload: dict[str, Any] = {"type": "block_actions", **self._common(user_id)}
        if message.get("type") in ("modal", "home"):
            surface = emu.views.get(message.get("id", ""), message)
            payload.update(container={"type": "view", "view_id": surface["id"]}, view=_slack_view(surface))
        elif message.get("source"):  # an ephemeral message (from emulator.ephemerals())
            surface = message
            payload.update(
                container={
                    "type": "message",
                    "message_ts": message["ts"],
                    "channel_id": message["channel"],
                    "is_ephemeral": True,
                },
                response_url=emu.issue_response_url(user_id, message["channel"], message["ts"], True),
            )
            payload["channel"] = {"id": message["channel"], "name": self._channel(message["channel"]).name}
        else:
            found = emu.find_message(message["ts"], channel_id)
            if found is None:
                raise AssertionError(f"message {message['ts']} is not in the channel (deleted?)")
            cid, surface = found
            if as_seen:
                surface = {k: v for k, v in message.items() if k != "previous"}
            surface.pop("previous", None)
            payload.update(
                container={
                    "type": "message",
                    "message_ts": surface["ts"],
                    "channel_id": cid,
                    "is_ephemeral": False,
                },
                channel={"id": cid, "name": self._channel(cid).name},
                message=surface,
                response_url=emu.issue_response_url(user_id, cid, surface["ts"]),
            )
        shown = {el["action_id"]: (bid, el) for bid, el in elements(surface.get("blocks", []))}
        if action_id not in shown:
            raise AssertionError(f"the message shows no element {action_id!r}; it shows {sorted(shown)}")
        block_id, element = shown[action_id]
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
        }
        if element["type"] == "button":
            if value is not None and value != element.get("value"):
                raise AssertionError(f"button {action_id!r} carries {element.get('value')!r}, not {value!r}")
            action.update(
                type="button",
                text=element["text"],
                **{k: element[k] for k in ("value", "style") if k in element},
            )
        else:
            state = element_state(element, selected_option if selected_option is not None else value)
            action.update(state)
            payload["state"] = {"values": {block_id: {action_id: state}}}
        payload.setdefault("state", {"values": {}})
        payload["actions"] = [action]
        return payload

    def submit_view(
        self, user_id: str, view: dict, values: dict[str, dict[str, Any]], **sign: Any
    ) -> requests.Response:
        """Fill in the open modal ``view`` (``{block_id: {action_id: value}}``) and press its submit button.

        The bot's answer is applied like Slack does: ``errors`` keeps the modal open, ``update``/``push``
        change it, anything else closes it."""
        current = self.emulator.views.get(view.get("id", ""))
        if current is None or current["id"] in self.emulator.closed_views:
            raise AssertionError(f"view {view.get('id')} is not open")
        response = self._interaction(self.view_submission_payload(user_id, current, values), **sign)
        self._apply_response_action(current, response)
        return response

    def view_submission_payload(self, user_id: str, view: dict, values: dict[str, dict[str, Any]]) -> dict:
        """The ``view_submission`` payload Slack sends when ``user_id`` submits ``view`` filled with ``values``."""
        current = self.emulator.views.get(view.get("id", ""), view)
        state: dict[str, dict] = {}
        given = {(b, a) for b, by_action in values.items() for a in by_action}
        for block in current.get("blocks", []):
            for block_id, element in elements([block]):
                if block["type"] == "input" or (block_id, element["action_id"]) in given:
                    value = values.get(block_id, {}).get(element["action_id"])
                    state.setdefault(block_id, {})[element["action_id"]] = element_state(element, value)
                    given.discard((block_id, element["action_id"]))
        if given:
            raise AssertionError(f"the view has no inputs {sorted(given)}")
        return {
            "type": "view_submission",
            **self._common(user_id),
            "response_urls": [],
            "view": {**_slack_view(current), "state": {"values": state}},
        }

    def _apply_response_action(self, view: dict, response: requests.Response) -> None:
        emu = self.emulator
        try:
            answer = response.json() if response.ok and response.content else {}
        except ValueError:
            answer = {}
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if not response.ok or action == "errors":
            return
        with emu.lock:
            try:
                if action == "update":
                    store_view(emu, checked_view(answer, ("modal",)), view["user_id"], view["id"])
                    return
                if action == "push":
                    store_view(emu, checked_view(answer, ("modal",)), view["user_id"], previous=view["id"])
            except SlackError as exc:
                raise AssertionError(f"the bot answered an invalid view: {exc.body()}") from exc
            emu.closed_views.add(view["id"])
            if action == "clear":
                emu.closed_views.update(v for v in emu.view_order if emu.views[v]["user_id"] == view["user_id"])

    def event(self, event: dict, **sign: Any) -> requests.Response:
        """Deliver an Events API event (wrapped in an ``event_callback`` envelope)."""
        emu = self.emulator
        envelope = {
            "token": emu.verification_token,
            "team_id": emu.team_id,
            "api_app_id": emu.app_id,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": emu.team_id,
                    "user_id": emu.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_hex(8),
        }
        return self.deliver("events_api", envelope, **sign)

    def react(self, user_id: str, channel_id: str, ts: str, name: str, removed: bool = False) -> requests.Response:
        """A person adds (or takes off) a reaction on a message; the bot is told (``reaction_added``, ``_removed``)."""
        emu = self.emulator
        with emu.lock:
            message = next(m for m in emu.channels[channel_id].messages if m["ts"] == ts)
            reactions = message.setdefault("reactions", [])
            reaction = next((r for r in reactions if r["name"] == name), None)
            if reaction is None:
                reaction = {"name": name, "users": [], "count": 0}
                reactions.append(reaction)
            if removed and user_id in reaction["users"]:
                reaction["users"].remove(user_id)
            elif not removed and user_id not in reaction["users"]:
                reaction["users"].append(user_id)
            reaction["count"] = len(reaction["users"])
            message["reactions"] = [r for r in reactions if r["count"]]
        event = {
            "type": "reaction_removed" if removed else "reaction_added",
            "user": user_id,
            "reaction": name,
            "item": {"type": "message", "channel": channel_id, "ts": ts},
            "item_user": message.get("user", ""),
            "event_ts": emu.next_ts(),
        }
        return self.event(event)

    def url_verification(self, challenge: str = "sandbox-challenge", **sign: Any) -> requests.Response:
        body = {"token": self.emulator.verification_token, "challenge": challenge, "type": "url_verification"}
        return self.send(json.dumps(body), "application/json", **sign)

    def say(self, user_id: str, channel_id: str, text: str) -> requests.Response:
        """Post a message as a person, then deliver its ``message`` (or ``app_mention``) event."""
        message = self.emulator.post_as(user_id, channel_id, text)
        kind = "app_mention" if f"<@{self.emulator.bot_user_id}>" in text else "message"
        return self.event({**message, "type": kind, "channel_type": "channel", "event_ts": message["ts"]})


def _slack_view(view: dict) -> dict:
    """A view as Slack puts it in payloads (without the emulator's bookkeeping)."""
    return {k: v for k, v in view.items() if k != "user_id"}
