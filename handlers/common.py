"""What every listener needs: who is asking, and how to answer them privately."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.incidents.actors import SlackUser
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure

log = logging.getLogger(__name__)


def user_from(body: dict, respond: Callable[..., object]) -> SlackUser:
    """The person behind a command or click, with an ephemeral reply channel."""
    user = body.get("user_id") or (body.get("user") or {}).get("id", "")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id", "")

    def reply(text: str, blocks: list[dict] | None = None) -> None:
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    return SlackUser(id=user, channel_id=channel, trigger_id=body.get("trigger_id", ""), reply=reply)


def user_from_view(rt: Runtime, body: dict) -> SlackUser:
    """The person who submitted a modal; a modal has no reply URL, so answers go to their direct messages."""
    user = (body.get("user") or {}).get("id", "")

    def reply(text: str, blocks: list[dict] | None = None) -> None:
        try:
            rt.slack.post(user, text, blocks)
        except SlackFailure as exc:
            log.warning("could not answer %s: %s", user, exc)

    return SlackUser(id=user, channel_id="", trigger_id=body.get("trigger_id", ""), reply=reply)
