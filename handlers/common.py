"""What every listener needs: who is asking, and how to answer them privately."""

from __future__ import annotations

from collections.abc import Callable

from bot.incidents.lifecycle import Caller


def caller_from(body: dict, respond: Callable[..., object]) -> Caller:
    """The person behind a command, click or submission, with an ephemeral reply channel."""
    user = body.get("user_id") or (body.get("user") or {}).get("id", "")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id", "")

    def reply(text: str, blocks: list[dict] | None = None) -> None:
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    return Caller(user_id=user, channel_id=channel, trigger_id=body.get("trigger_id", ""), reply=reply)
