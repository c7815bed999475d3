"""What every listener needs: who is asking, and how to answer them privately."""

from __future__ import annotations

import logging

from bot.incidents.actors import SlackUser
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure

log = logging.getLogger(__name__)


def user_from(rt: Runtime, body: dict) -> SlackUser:
    """The person behind a command or click, answered privately through its response_url (the gateway's
    kept-alive connections; a failed answer is logged, there is nowhere else to tell them)."""
    user = body.get("user_id") or (body.get("user") or {}).get("id", "")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id", "")
    response_url = body.get("response_url", "")

    def reply(text: str, blocks: list[dict] | None = None) -> None:
        try:
            rt.slack.respond(response_url, text, blocks)
        except SlackFailure as exc:
            log.warning("could not answer %s: %s", user, exc)

    return SlackUser(id=user, channel_id=channel, trigger_id=body.get("trigger_id", ""), reply=reply)


def user_from_view(rt: Runtime, body: dict) -> SlackUser:
    """The person who submitted a modal; a modal has no reply URL, so answers go to their direct messages."""
    return user_from_event(rt, (body.get("user") or {}).get("id", ""), "", body.get("trigger_id", ""))


def user_from_event(rt: Runtime, user: str, channel: str, trigger_id: str = "") -> SlackUser:
    """The person behind an event (a reaction) or a modal: no reply URL, so answers go to their direct messages."""

    def reply(text: str, blocks: list[dict] | None = None) -> None:
        try:
            rt.slack.post(user, text, blocks)
        except SlackFailure as exc:
            log.warning("could not answer %s: %s", user, exc)

    return SlackUser(id=user, channel_id=channel, trigger_id=trigger_id, reply=reply)
